#!/usr/bin/env bash
# Seeds the fuzz corpora (fuzz/corpus/<target>/, git-ignored) from the
# public captures in $BAIKAL_CORPUS (default ../shared/pcaps) and the repo's
# own pcaps/ and rules/. Needs tshark/editcap (apt-get install -y tshark)
# and python3. Never commit what this writes.
#
# Seeds are written in each target's input format (see fuzz/src/lib.rs and
# fuzz/fuzz_targets/*.rs):
#   capture        small capture files as they are (and one gzip'd)
#   decode         link byte + frames, each with a 2-byte LE length
#   pipeline       eth/raw byte + frames, each with a 2-byte LE length and
#                  a 1-byte time step (forward, or back when bit 7 is set)
#   dissect_*      transport/port byte, grouping byte, [orig and resp ports
#                  when the resp port is not one of the 16], flow pieces with a
#                  2-byte LE length, alternating orig/resp
#   client_hello   the first ClientHello handshake message of TLS flows
#   rules          the repo's rule files
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${BAIKAL_CORPUS:-$root/../shared/pcaps}
[ -d "$corpus" ] || [ -n "${BAIKAL_CORPUS:-}" ] || corpus=$root/../../shared/pcaps
out=$root/fuzz/corpus
per_target=${SEEDS_PER_TARGET:-400}
command -v tshark >/dev/null || { echo "fuzz-seeds: tshark missing (apt-get install -y tshark)" >&2; exit 1; }
[ -d "$corpus" ] || { echo "fuzz-seeds: no corpus at $corpus (set BAIKAL_CORPUS)" >&2; exit 1; }
mkdir -p "$out"/{capture,decode,pipeline,client_hello,rules,dissect_all}
cp "$root"/rules/*.toml "$out/rules/"
# Small captures seed the reader as they are.
find "$corpus" "$root/pcaps" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) -size -24k \
    | head -n "$per_target" | while read -r f; do cp "$f" "$out/capture/$(basename "$f")"; done
gzip -c "$root/pcaps/basic.pcap" > "$out/capture/basic.pcap.gz"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
find "$corpus" "$root/pcaps" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) -size -4M | sort > "$tmp/list"
while read -r f; do
    n=$(basename "$f")
    # Frames as classic pcap (for decode/pipeline) ...
    editcap -F pcap -r "$f" "$tmp/$n.pcap" 1-64 2>/dev/null || continue
    # ... and per-packet payloads for the flow seeds.
    tshark -r "$f" -n -T fields -E separator=';' \
        -e tcp.stream -e udp.stream -e ip.src -e ipv6.src -e tcp.srcport -e udp.srcport \
        -e tcp.dstport -e udp.dstport -e tcp.payload -e udp.payload 2>/dev/null > "$tmp/$n.txt" || true
done < "$tmp/list"

python3 - "$tmp" "$out" "$per_target" "$root" <<'PY'
import hashlib, os, struct, sys
tmp, out, per, root = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
PORTS = [443, 80, 53, 22, 25, 143, 110, 3389, 445, 123, 67, 3478, 51820, 1194, 6881, 5353]
LINKS = [1, 0, 12, 14, 101, 108, 113, 228, 229, 276]
counts = {}
later = []
TARGET_PORTS = {
    "dissect_quic": (443, 80, 8443, 784, 853), "dissect_dns": (53, 5353, 5355), "dissect_http": (80, 8080, 3128),
    "dissect_ssh": (22, 2222), "dissect_stun": (3478, 3479, 19302, 5349), "dissect_dtls": (443, 4433, 5349, 5061),
    "dissect_smb": (445, 139), "dissect_rdp": (3389,), "dissect_bittorrent": (6881, 6882, 6889, 6969, 51413),
    "dissect_wireguard": (51820,), "dissect_dhcp": (67, 68, 546, 547), "dissect_smtp": (25, 587, 465), "dissect_ftp": (21, 2121), "dissect_capwap": (5246, 5247),
    "dissect_imap": (143, 993), "dissect_pop3": (110, 995), "dissect_openvpn": (1194, 443), "dissect_ntp": (123,),
    "dissect_whatsapp": (443, 5222), "dissect_discord_voice": tuple(range(50000, 50100)),
    "dissect_slp": (427,), "dissect_gnutella": (6346, 6347), "dissect_ethereum": (30303, 30301),
    "dissect_source_engine": (27015, 27016, 27005), "dissect_bacnet": (47808,), "dissect_bjnp": (8611, 8612, 8613),
    "dissect_nat_pmp": (5351,), "dissect_coap": (5683, 5684), "dissect_kerberos": (88,), "dissect_iec104": (2404,),
    "dissect_alicloud": (8999,), "dissect_sd_rtn": (8130,), "dissect_eaq": (6000,), "dissect_oicq": (8000,),
    "dissect_xiaomi": (5222,), "dissect_riotgames": (8181, 7998), "dissect_teamviewer": (5938,),
    "dissect_viber": (4244, 5242, 5243, 9785), "dissect_xmpp": (5222, 5269),
    "dissect_spotify": (57621,), "dissect_syncthing": (21027,),
    "dissect_weave": (11095,), "dissect_avast": (80,),
    "dissect_zabbix": (10050, 10051),
    "dissect_tuya_lp": (6666, 6667, 6668),
    "dissect_tplink_shp": (9999,),
    "dissect_dnp3": (20000,),
    "dissect_kcp": (8000,),
    "dissect_rmcp": (623,),
    "dissect_hsrp": (1985, 2029),
    "dissect_tftp": (69,),
    "dissect_raknet": (19132, 19133, 7777),
    "dissect_bfd": (3784, 4784, 6784),
    "dissect_postgresql": (5432,),
    "dissect_modbus": (502,),
    "dissect_nintendo_pia": (49432, 52119, 34343),
    "dissect_ipsec": (500, 4500), "dissect_rtp": (5004, 5005, 6000, 16384, 23044),
    "dissect_zoom": tuple(range(8801, 8811)), "dissect_crynetwork": (20250, 25383, 28343, 64090),
    "dissect_bfcp": (5070,),
    "dissect_dlms": (4059, 4060),
    "dissect_atg": (10001,),
    "dissect_dlep": (854,),
    "dissect_ether_sbus": (5050,),
    "dissect_fins": (9600,),
    "dissect_mpeg_ts": (1234, 5000),
    "dissect_ieee_c37118": (4712, 4713),
    "dissect_cip_io": (2222,),
    "dissect_pfcp": (8805,),
    "dissect_hislip": (4880,),
    "dissect_rtps": (7400, 7410, 7411),
    "dissect_c1222": (1153,),
    "dissect_someip": (30490, 30501),
    "dissect_hart_ip": (5094, 5095),
    "dissect_knxnet_ip": (3671,),
    "dissect_sip": (5060, 5061),
    "dissect_snmp": (161, 162),
    "dissect_radius": (1812, 1813, 1645, 1646, 3799),
    "dissect_ssdp": (1900, 32412, 32414),
    "dissect_rtmp": (1935,),
    "dissect_rsync": (873,),
    "dissect_gearman": (4730,),
    "dissect_kafka": (9092,),
    "dissect_xdmcp": (177,),
    "dissect_cassandra": (9042, 7000),
    "dissect_vnc": (5900, 5901, 6900),
    "dissect_nomachine": (4000,),
    "dissect_nats": (4222,),
    "dissect_fix": (4000, 9878),
    "dissect_rsh": (514,),
    "dissect_activision": (3074,),
    "dissect_photon": (5055, 5056, 5058),
    "dissect_wow": (3724, 8085),
    "dissect_amongus": (22023, 22123, 22223),
    "dissect_huawei_push": (5223,),
    "dissect_mumble": (64738,),
    "dissect_genshin": (22101, 22102),
    "dissect_uftp": (1044,),
}
others = sorted(f[:-3] for f in os.listdir(os.path.join(root, "fuzz/fuzz_targets"))
                if f.startswith("dissect_") and f[:-3] not in ("dissect_all", "dissect_tls", "dissect_mtproto"))
def put(target, data):
    if counts.get(target, 0) >= per or not data:
        return
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as fh:
        fh.write(data)
    counts[target] = counts.get(target, 0) + 1

def frames(path):
    b = open(path, "rb").read()
    if len(b) < 24: return None, []
    magic = b[:4]
    e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    lt = struct.unpack(e + "I", b[20:24])[0] & 0x03ffffff
    fr, o = [], 24
    while o + 16 <= len(b):
        ts, _, incl, _ = struct.unpack(e + "IIII", b[o:o+16])
        fr.append((ts, b[o+16:o+16+incl])); o += 16 + incl
    return lt, fr

names = sorted(os.listdir(tmp))
for n in names:
    if not n.endswith(".pcap"): continue
    lt, fr = frames(os.path.join(tmp, n))
    if lt is None or not fr: continue
    if lt in LINKS:
        put("decode", bytes([LINKS.index(lt)]) + b"".join(struct.pack("<H", len(f[:65535])) + f[:65535] for _, f in fr))
    if lt in (1, 101):
        s, prev = bytearray([0 if lt == 1 else 1]), fr[0][0]
        for ts, f in fr:
            # Forward in 10 ms steps (up to 127), or back (bit 7, seconds).
            step = min(ts - prev, 127) if ts >= prev else 0x80 | min(prev - ts, 127)
            s += struct.pack("<H", len(f[:65535])) + bytes([step]) + f[:65535]; prev = ts
        put("pipeline", bytes(s))

for n in names:
    if not n.endswith(".txt"): continue
    flows = {}
    for line in open(os.path.join(tmp, n)):
        c = line.rstrip("\n").split(";")
        if len(c) < 10: continue
        ts_, us_, s4, s6, tsp, usp, tdp, udp_, tpl, upl = c[:10]
        if ts_:
            key, tr, sp, dp, pl = ("t", ts_), 0, tsp, tdp, tpl
        elif us_:
            key, tr, sp, dp, pl = ("u", us_), 1, usp, udp_, upl
        else:
            continue
        src = (s4 or s6) + ":" + sp
        f = flows.setdefault(key, {"tr": tr, "orig": src, "dport": dp, "pieces": []})
        pl = pl.split(",")[0]
        if not pl: continue
        try: data = bytes.fromhex(pl)
        except ValueError: continue
        if len(f["pieces"]) < 16:
            f["pieces"].append((src == f["orig"], data))
    for f in flows.values():
        if not f["pieces"]: continue
        try: port = int(f["dport"].split(",")[0])
        except ValueError: port = 0
        try: sp_port = int(f["orig"].rsplit(":", 1)[1].split(",")[0])
        except (ValueError, IndexError): sp_port = 0
        pi = PORTS.index(port) if port in PORTS else 0
        # byte 1 = 1: switch sides after every piece (the harness alternates;
        # consecutive same-side pieces are merged).
        merged = []
        for o, d in f["pieces"]:
            if merged and merged[-1][0] == o: merged[-1] = (o, merged[-1][1] + d)
            else: merged.append((o, d))
        if not merged[0][0]: merged.insert(0, (True, b""))
        # A port of the 16 the harness knows goes as its index (the originator
        # is then port 40000); any other as both real ports (byte 0 bit 7).
        if port in PORTS:
            seed = bytearray([pi * 2 + f["tr"], 1])
        else:
            seed = bytearray([0x80 | f["tr"], 1]) + struct.pack(">HH", sp_port, port)
        for _, d in merged:
            d = d[:65535]; seed += struct.pack("<H", len(d)) + d
        seed = bytes(seed)
        put("dissect_all", seed)
        first = merged[0][1]
        if f["tr"] == 0 and first[:1] == b"\x16" and len(first) > 9:
            put("dissect_tls", seed)
            put("client_hello", first[5:])
        elif f["tr"] == 0 or port == 443:
            put("dissect_mtproto", seed)
        # Other per-dissector targets: flows on the protocol's usual ports
        # first (so each target starts from its own protocol), then any flow.
        for extra in others:
            if port in TARGET_PORTS.get(extra, ()) or sp_port in TARGET_PORTS.get(extra, ()):
                put(extra, seed)
            else:
                later.append((extra, seed))
for extra, seed in later:
    put(extra, seed)
for t, c in sorted(counts.items()):
    print(f"fuzz-seeds: {t}: {c} seeds")
PY
echo "fuzz-seeds: capture: $(ls "$out/capture" | wc -l) seeds, rules: $(ls "$out/rules" | wc -l) seeds"
