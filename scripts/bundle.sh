#!/bin/sh
# Offline bundle for a site with no registry (mirror): one tarball holding dist/ (gateway and
# player), config/, deploy/, package.json, package-lock.json and the production node_modules,
# including the ffmpeg binary of @ffmpeg-installer for the target CPU. On the site, only Node is needed:
#   tar -xzf streamgate-0.1.0-linux-x64.tar.gz && cd streamgate-0.1.0 && npm start
#
# usage: scripts/bundle.sh [--out DIR] [--cpu x64|arm64] [--no-build] [--offline]
#   --out DIR    where the bundle (and its .sha256) goes; default ./release
#   --cpu C      target CPU (linux, glibc); default this machine's. npm picks the matching
#                @ffmpeg-installer/linux-C package, so an arm64 bundle can be made on x64
#   --no-build   use the dist/ already built (npm run build) instead of building it again
#   --offline    install the production packages from the npm cache only (no network)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/release
cpu=$(node -p process.arch)
build=yes
offline=
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --cpu) cpu=$2; shift 2 ;;
    --no-build) build=no; shift ;;
    --offline) offline=--offline; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bundle.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $cpu in
  x64|arm64) ;;
  *) echo "bundle.sh: --cpu must be x64 or arm64 (the CPUs @ffmpeg-installer ships for linux), got $cpu" >&2; exit 2 ;;
esac

version=$(node -p "require('$root/package.json').version")
name=streamgate-$version
stage=$(mktemp -d "${TMPDIR:-/tmp}/streamgate-bundle.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM

cd "$root"
if [ $build = yes ]; then
  # prepack runs the full build (tsc and vite), so the tarball never carries a stale dist/.
  npm pack --silent --pack-destination "$stage" >/dev/null
else
  if [ ! -f dist/gateway/main.js ] || [ ! -f dist/player/index.html ]; then
    echo "bundle.sh: --no-build needs a built dist/ (npm run build)" >&2
    exit 1
  fi
  npm pack --silent --ignore-scripts --pack-destination "$stage" >/dev/null
fi

# npm pack's file list (package.json "files") is exactly what a production install needs.
mkdir "$stage/$name"
tar -xzf "$stage/$name.tgz" -C "$stage/$name" --strip-components=1
rm "$stage/$name.tgz"
cp package-lock.json "$stage/$name/"
# The lock pins every package; --cpu/--os/--libc choose the platform packages for the target.
(cd "$stage/$name" && npm ci --omit=dev --no-audit --no-fund --loglevel=error $offline --os=linux --cpu="$cpu" --libc=glibc)
ffmpeg=$stage/$name/node_modules/@ffmpeg-installer/linux-$cpu/ffmpeg
if [ ! -f "$ffmpeg" ]; then
  echo "bundle.sh: the bundled ffmpeg ($ffmpeg) was not installed" >&2
  exit 1
fi
# Its postinstall makes it executable for the installing user only; the service runs as another.
chmod 755 "$ffmpeg"

mkdir -p "$out"
bundle=$out/$name-linux-$cpu.tar.gz
tar -czf "$bundle" -C "$stage" "$name"
(cd "$out" && sha256sum "$(basename "$bundle")" > "$(basename "$bundle").sha256")
echo "$bundle"
