#!/usr/bin/env bash
# Install the system tools some tests use, from Debian's packages, when missing:
#   tshark    reads the pcap/pcapng files synack writes (tests/trace/test_tshark.py)
#   chromium  renders the HTML ladder headless for a screenshot (tests/trace/test_html_browser.py)
#   fonts-dejavu-core  so that the screenshot has glyphs to draw
#   fonts-wqy-zenhei   Chinese glyphs for the scenarios' --lang zh pages
#
# Fast and silent when everything is present; skips quietly when not root or
# without apt-get (the tests that need these tools then skip, saying why).
# Runs `apt-get update` once, non-interactively, and answers wireshark's
# "should non-superusers be able to capture packets?" question with no.
# An install that fails is reported but does not fail the caller (`make test`).
set -euo pipefail

missing=()
command -v tshark >/dev/null 2>&1 || missing+=(tshark)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
dpkg-query -W -f='${Status}' fonts-dejavu-core 2>/dev/null | grep -q "ok installed" \
    || missing+=(fonts-dejavu-core)
dpkg-query -W -f='${Status}' fonts-wqy-zenhei 2>/dev/null | grep -q "ok installed" \
    || missing+=(fonts-wqy-zenhei)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}" >&2
if command -v debconf-set-selections >/dev/null 2>&1; then
    echo "wireshark-common wireshark-common/install-setuid boolean false" \
        | debconf-set-selections
fi
if ! apt-get update -qq >/dev/null \
    || ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "install-deps: could not install ${missing[*]}; the tests that need them will skip" >&2
fi
exit 0
