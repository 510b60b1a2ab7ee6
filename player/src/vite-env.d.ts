/** CSS imports are handled by Vite; the pages import their stylesheet for its side effect. */
declare module '*.css';
