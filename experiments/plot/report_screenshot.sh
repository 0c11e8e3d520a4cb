#!/usr/bin/env bash
# Renders the report of a tiny 2-member sweep (experiments/tiny.json, Xavier against Kaiming, PReLU,
# a probe) with headless Chromium to a PNG, and checks that the picture is not blank: what a person
# opening report.html sees, not only what the HTML checker of tests/test_report.cpp accepts.
# Needs Debian's `chromium` (apt-get install -y chromium); the test suite does not.
#   experiments/plot/report_screenshot.sh [BUILD_DIR] [OUT.png]      (defaults: build, report.png)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$here/build}"
png="$(realpath -m "${2:-report.png}")"
delve="$build/delve"
[[ -x "$delve" ]] || { echo "report_screenshot: no delve binary at $delve (build first)" >&2; exit 2; }
browser="$(command -v chromium || command -v chromium-browser || true)"
[[ -n "$browser" ]] || { echo "report_screenshot: no chromium (apt-get install -y chromium)" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sets=(--set train.iterations=64 --set train.layers_every=8 --set model.activation=prelu
      --set 'sweep={"init.kind": ["xavier", "kaiming"]}')
"$delve" run "$here/experiments/tiny.json" "${sets[@]}" --out "$work/sweep" --quiet >/dev/null
"$delve" probe "$here/experiments/tiny.json" --set model.activation=prelu --batches 1 \
  --json "$work/sweep/probe.json" >/dev/null
"$delve" report "$work/sweep" -o "$work/report.html"

# --virtual-time-budget lets the page finish laying out before the shot is taken.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=2000 \
  --user-data-dir="$work/profile" --screenshot="$png" --window-size=1200,3000 "file://$work/report.html" \
  >/dev/null 2>&1
[[ -s "$png" ]] || { echo "report_screenshot: chromium wrote no $png" >&2; exit 1; }

# A blank or failed render is one colour (white, or Chromium's error page is a handful); the report
# has text, tables, curves in eight colours and heat maps with colour scales: hundreds.
python3 - "$png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, header = 8, b"", None
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR": header = struct.unpack(">IIBBBBB", body)
    if kind == b"IDAT": idat += body
    pos += 12 + length
width, height, depth, colour_type = header[:4]
assert depth == 8 and colour_type in (2, 6), f"unexpected PNG format {depth}/{colour_type}"
bpp = 3 if colour_type == 2 else 4
raw, stride = zlib.decompress(idat), width * bpp
prev, colours, ink = bytearray(stride), set(), 0
for y in range(height):  # undo the per-row filters (PNG spec, section 9)
    f, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = row[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: row[i] = (row[i] + a) & 255
        elif f == 2: row[i] = (row[i] + b) & 255
        elif f == 3: row[i] = (row[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        pixel = bytes(row[x:x + 3])
        colours.add(pixel)
        ink += pixel != b"\xff\xff\xff"
    prev = row
share = ink / (width * height)
print(f"{sys.argv[1]}: {width}x{height}, {len(colours)} distinct colours, {100 * share:.1f}% non-white")
if len(colours) < 64 or share < 0.02:
    sys.exit("report_screenshot: the picture looks blank")
PY
