//! Tests for the QUIC dissector. Fixtures: RFC 9001 Appendix A.2 and
//! RFC 9369 Appendix A.2 (published test vectors), and packets built here.

use super::crypto::{initial_keys, seal_long, unhex, Labels, Role};
use super::*;
use crate::dissect::{Side, Transport};

/// RFC 9001 A.2: the CRYPTO frame of the client Initial (ClientHello for
/// example.com); the payload is this plus PADDING to 1162 bytes.
const A2_CRYPTO_FRAME: &str = "
060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868
04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578
616d706c652e636f6dff01000100000a00080006001d00170018001000070005
04616c706e000500050100000000003300260024001d00209370b2c9caa47fba
baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400
0d0010000e0403050306030203080408050806002d00020101001c0002400100
3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000
75300901100f088394c8f03e51570806048000ffff";

/// RFC 9001 A.2: the protected client Initial (1200 bytes).
const A2_V1_PACKET: &str = "
c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11
d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399
1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c
8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212
30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5
457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208
4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec
4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3
485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db
059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c
7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8
9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556
be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74
68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a
c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00
f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632
291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964
25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd
14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff
ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198
e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd
c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73
203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f
cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e
fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade
a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047
90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2
162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4
40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0
6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e
8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0
be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400
54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab
760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9
f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4
056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064
7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241
e221af44860018ab0856972e194cd934";

/// RFC 9001 A.3: the server's protected Initial (ACK + ServerHello).
const A3_SERVER_PACKET: &str = "
cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a
5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3
dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84
022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4
2158407dd074ee";

/// RFC 9369 A.2: the protected v2 client Initial (same payload).
const A2_V2_PACKET: &str = "
d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485
dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04
9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d
250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a
12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500
cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68
18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33
12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3
d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd
6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520
bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045
636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f
ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12
16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5
4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4
fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b
8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7
14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9
9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91
abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd
80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db
848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18
d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15
c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc
7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61
f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710
10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b
3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e
06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce
8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1
34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1
e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd
5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3
8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89
d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53
6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19
9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b
a18b2faa745b6fe189cf772a9f84cbfc";

const DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

/// The ClientHello handshake message carried by the A.2 CRYPTO frame.
fn a2_hello() -> Vec<u8> {
    unhex(A2_CRYPTO_FRAME)[4..].to_vec()
}

/// Datagrams of one side, concatenated with their end offsets.
struct Sides {
    orig: (Vec<u8>, Vec<u32>),
    resp: (Vec<u8>, Vec<u32>),
}

fn side(dgrams: &[Vec<u8>]) -> (Vec<u8>, Vec<u32>) {
    let mut data = Vec::new();
    let mut ends = Vec::new();
    for d in dgrams {
        data.extend_from_slice(d);
        ends.push(data.len() as u32);
    }
    (data, ends)
}

impl Sides {
    fn new(orig: &[Vec<u8>], resp: &[Vec<u8>]) -> Sides {
        Sides {
            orig: side(orig),
            resp: side(resp),
        }
    }
    fn payloads(&self, last: bool) -> Payloads<'_> {
        Payloads {
            transport: Transport::Udp,
            orig_port: 50000,
            resp_port: 443,
            orig: Side {
                data: &self.orig.0,
                ends: &self.orig.1,
            },
            resp: Side {
                data: &self.resp.0,
                ends: &self.resp.1,
            },
            last,
        }
    }
}

fn run(orig: &[Vec<u8>], last: bool) -> (Parse, Meta) {
    let s = Sides::new(orig, &[]);
    let p = s.payloads(last);
    let mut m = Meta::default();
    let r = Quic.parse(&p, &mut m);
    (r, m)
}

fn client(orig: &[Vec<u8>]) -> Client {
    let s = Sides::new(orig, &[]);
    analyse_client(&s.payloads(false)).expect("recognised as QUIC")
}

/// Feeds every prefix of each datagram, datagrams one at a time, and
/// checks the final verdict equals the whole-input one.
fn check_split(orig: &[Vec<u8>]) -> (Parse, Meta) {
    let whole = run(orig, false);
    for i in 0..orig.len() {
        for k in 0..=orig[i].len() {
            let mut part: Vec<Vec<u8>> = orig[..i].to_vec();
            part.push(orig[i][..k].to_vec());
            let s = Sides::new(&part, &[]);
            let p = s.payloads(false);
            let _ = Quic.probe(&p);
            let _ = Quic.parse(&p, &mut Meta::default());
            let _ = Quic.parse(&s.payloads(true), &mut Meta::default());
        }
    }
    let again = run(orig, false);
    assert_eq!(whole, again);
    whole
}

/// A v1/v2 client Initial protected with keys from `dcid`, carrying
/// `frames` padded so the datagram reaches `pad_to` bytes.
fn initial(version: u32, dcid: &[u8], pn: u32, frames: &[u8], pad_to: usize) -> Vec<u8> {
    let v2 = version == packet::V2;
    let salt: &[u8] = if v2 { &SALT_V2 } else { &SALT_V1 };
    let labels = if v2 { Labels::V2 } else { Labels::V1 };
    let keys = initial_keys(salt, dcid, labels, Role::Client).unwrap();
    let mut payload = frames.to_vec();
    let overhead = 1 + 4 + 1 + dcid.len() + 1 + 1 + 2 + 4 + 16;
    if payload.len() + overhead < pad_to {
        payload.resize(pad_to - overhead, 0);
    }
    let ty = if v2 { 0x10 } else { 0x00 };
    let mut h = vec![0xc3 | ty];
    h.extend_from_slice(&version.to_be_bytes());
    h.push(dcid.len() as u8);
    h.extend_from_slice(dcid);
    h.extend_from_slice(&[0, 0]);
    let len = (4 + payload.len() + 16) as u16;
    h.extend_from_slice(&(0x4000 | len).to_be_bytes());
    h.extend_from_slice(&pn.to_be_bytes());
    seal_long(&keys, &h, 4, &payload)
}

fn crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut f = vec![
        0x06,
        0x80 | (offset >> 24) as u8,
        (offset >> 16) as u8,
        (offset >> 8) as u8,
        offset as u8,
    ];
    f.extend_from_slice(&(0x4000 | data.len() as u16).to_be_bytes());
    f.extend_from_slice(data);
    f
}

#[test]
fn rfc9001_a2_client_initial_decrypts_to_the_crypto_frame() {
    let pkt = unhex(A2_V1_PACKET);
    assert_eq!(pkt.len(), 1200);
    let items: Vec<_> = packet::coalesced(&pkt).collect();
    let Item::Long(l) = items[0] else { panic!("long header") };
    assert_eq!(l.ty, LongType::Initial);
    let keys = initial_keys(&SALT_V1, &DCID, Labels::V1, Role::Client).unwrap();
    let o = crypto::open_long(&keys, l.packet, l.pn_offset).unwrap();
    assert_eq!(o.packet_number, 2);
    assert_eq!(o.payload.len(), 1162);
    let frame = unhex(A2_CRYPTO_FRAME);
    assert_eq!(&o.payload[..frame.len()], &frame[..]);
    assert!(o.payload[frame.len()..].iter().all(|&b| b == 0));

    let c = client(std::slice::from_ref(&pkt));
    assert!(c.readable && c.hello_done);
    assert_eq!(c.hello_msg, a2_hello());
    let (r, m) = check_split(&[pkt]);
    assert_eq!(r, Parse::Identified);
    assert_eq!(m.protocol, Some("quic"));
    assert_eq!(m.encryption, Encryption::Encrypted);
    assert_eq!(m.extra("quic_version"), Some("v1"));
    // End to end through the shared ClientHello parser.
    assert_eq!(m.sni.as_deref(), Some("example.com"));
    assert_eq!(m.alpn.as_deref(), Some("alpn"));
    assert!(m.ja4.as_deref().is_some_and(|j| j.starts_with("q13d")), "{:?}", m.ja4);
}

#[test]
fn rfc9369_a2_v2_client_initial() {
    let pkt = unhex(A2_V2_PACKET);
    assert_eq!(pkt.len(), 1200);
    let c = client(std::slice::from_ref(&pkt));
    assert!(c.readable);
    assert_eq!(c.hello_msg, a2_hello());
    let (r, m) = run(std::slice::from_ref(&pkt), false);
    assert_eq!(r, Parse::Identified);
    assert_eq!(m.extra("quic_version"), Some("v2"));
    assert_eq!(m.sni.as_deref(), Some("example.com"));
    // v1 type bits on a v2 packet name a Retry: not read as Initial.
    let mut wrong = pkt;
    wrong[0] &= !0x30;
    assert!(!client(&[wrong]).readable);
}

#[test]
fn client_hello_split_over_two_datagrams_in_order_and_reversed() {
    let hello = a2_hello();
    let (a, b) = hello.split_at(100);
    let d1 = initial(packet::V1, &DCID, 0, &crypto_frame(0, a), 1200);
    let d2 = initial(packet::V1, &DCID, 1, &crypto_frame(100, b), 1200);
    for order in [vec![d1.clone(), d2.clone()], vec![d2.clone(), d1.clone()]] {
        let c = client(&order[..1]);
        assert!(c.readable && !c.hello_done);
        let (r, _) = run(&order[..1], false);
        assert_eq!(r, Parse::Identified);
        let c = client(&order);
        assert_eq!(c.hello_msg, hello);
        let (r, m) = check_split(&order);
        assert_eq!(r, Parse::Identified);
        assert_eq!(m.extra("quic_version"), Some("v1"));
        assert_eq!(m.sni.as_deref(), Some("example.com"));
    }
}

#[test]
fn reordered_frames_and_coalesced_packets_in_one_datagram() {
    let hello = a2_hello();
    // Three CRYPTO frames in reverse order with PING and ACK between them.
    let mut frames = crypto_frame(200, &hello[200..]);
    frames.extend_from_slice(&[0x01, 0x02, 0x00, 0x00, 0x00, 0x00]);
    frames.extend_from_slice(&crypto_frame(90, &hello[90..200]));
    frames.extend_from_slice(&crypto_frame(0, &hello[..90]));
    let d = initial(packet::V2, &DCID, 7, &frames, 0);
    assert_eq!(client(&[d]).hello_msg, hello);

    // Two Initials coalesced, then a Handshake packet (not decryptable).
    let mut dgram = initial(packet::V1, &DCID, 0, &crypto_frame(0, &hello[..50]), 0);
    dgram.extend_from_slice(&initial(packet::V1, &DCID, 1, &crypto_frame(50, &hello[50..]), 0));
    dgram.extend_from_slice(&[0xe0, 0, 0, 0, 1, 0, 0, 3, 1, 2, 3]);
    let c = client(&[dgram.clone()]);
    assert_eq!(c.hello_msg, hello);
    assert_eq!(check_split(&[dgram]).0, Parse::Identified);
}

#[test]
fn later_initial_under_new_dcid_uses_the_first_dcid_keys() {
    let hello = a2_hello();
    let d1 = initial(packet::V1, &DCID, 0, &crypto_frame(0, &hello[..60]), 1200);
    // Keys from the first DCID, but the header carries the server's CID.
    let mut d2 = initial(packet::V1, &DCID, 1, &crypto_frame(60, &hello[60..]), 1200);
    let keys = initial_keys(&SALT_V1, &DCID, Labels::V1, Role::Client).unwrap();
    let items: Vec<_> = packet::coalesced(&d2).collect();
    let Item::Long(l) = items[0] else { panic!() };
    let plain = crypto::open_long(&keys, l.packet, l.pn_offset).unwrap().payload;
    let mut h = vec![0xc3, 0, 0, 0, 1, 4, 9, 9, 9, 9, 0, 0];
    h.extend_from_slice(&((0x4000 | (4 + plain.len() + 16)) as u16).to_be_bytes());
    h.extend_from_slice(&1u32.to_be_bytes());
    d2 = seal_long(&keys, &h, 4, &plain);
    assert_eq!(client(&[d1, d2]).hello_msg, hello);
}

#[test]
fn crypto_beyond_cap_and_non_hello_are_bounded() {
    let d = initial(packet::V1, &DCID, 0, &crypto_frame(Reassembler::CAP + 5, b"zz"), 1200);
    let c = client(std::slice::from_ref(&d));
    assert!(c.readable && !c.hello_done);
    assert_eq!(run(&[d], false).0, Parse::Identified);
    // A first message that is not a ClientHello ends the search.
    let d = initial(packet::V1, &DCID, 0, &crypto_frame(0, &[2, 0, 0, 1, 0]), 1200);
    assert_eq!(run(&[d], false).0, Parse::Identified);
    // A ClientHello claiming 16 MiB is never complete.
    let d = initial(packet::V1, &DCID, 0, &crypto_frame(0, &[1, 0xff, 0xff, 0xff, 0]), 1200);
    assert_eq!(run(&[d], false).0, Parse::Identified);
}

#[test]
fn garbage_truncated_and_absurd_lengths_do_not_panic() {
    let pkt = unhex(A2_V1_PACKET);
    // Corrupted tag: recognised by header, not readable, so NeedMore
    // until the engine says last.
    let mut bad = pkt.clone();
    bad[1199] ^= 0xff;
    assert_eq!(run(&[bad.clone()], false).0, Parse::NeedMore);
    let (r, m) = run(&[bad], true);
    assert_eq!(r, Parse::Identified);
    assert_eq!(m.sni, None);
    // A Length beyond the datagram: not a well-formed Initial, not QUIC.
    let mut long = pkt.clone();
    long[16..18].copy_from_slice(&[0x7f, 0xff]);
    assert_eq!(run(std::slice::from_ref(&long), false).0, Parse::NeedMore);
    assert_eq!(run(&[long], true).0, Parse::NotMine);
    // Absurd Length / token length / CID length fields.
    for (i, v) in [(18usize, 0xbfu8), (17, 0xff), (16, 0x7f), (5, 0xff), (14, 0x40)] {
        let mut p = pkt.clone();
        p[i] = v;
        let _ = run(&[p.clone()], false);
        let _ = run(&[p], true);
    }
    // Unknown version and random bytes: not QUIC.
    let mut p = pkt.clone();
    p[1..5].copy_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    assert_eq!(run(&[p], false).0, Parse::NotMine);
    let noise: Vec<u8> = (0..1200u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 & 0x7e)
        .collect();
    let two = [noise.clone(), noise[600..].to_vec()];
    assert_eq!(run(&two, true).0, Parse::NotMine);
    let s = Sides::new(&two, &[]);
    assert_ne!(Quic.probe(&s.payloads(false)), Probe::Mine);
    let mut high = noise;
    high[0] = 0x81;
    assert_eq!(run(&[high.clone()], false).0, Parse::NotMine);
    let s = Sides::new(&[high], &[]);
    assert_eq!(Quic.probe(&s.payloads(false)), Probe::NotMine);
    // Every single-byte flip of the header area, and a few bytes.
    for i in 0..40 {
        for x in [0x01u8, 0x80, 0xff] {
            let mut p = pkt.clone();
            p[i] ^= x;
            let _ = run(&[p], true);
        }
    }
    for n in 0..64 {
        let _ = run(&[pkt[..n].to_vec()], true);
    }
}

#[test]
fn gquic_q043_chlo_in_the_clear() {
    let chlo = gquic::build_chlo(&[
        (b"PAD\0", &[0x2d; 40]),
        (b"SNI\0", b"www.youtube.com"),
        (b"UAID", b"Chrome/79"),
    ]);
    let mut pkt = vec![0x0du8];
    pkt.extend_from_slice(&[0x11; 8]);
    pkt.extend_from_slice(b"Q043");
    pkt.push(1);
    pkt.extend_from_slice(&[0xab; 12]);
    pkt.extend_from_slice(&[0xa0, 0x01]);
    pkt.extend_from_slice(&(chlo.len() as u16).to_be_bytes());
    pkt.extend_from_slice(&chlo);
    pkt.resize(1350, 0);
    let (r, m) = check_split(&[pkt]);
    assert_eq!(r, Parse::Done);
    assert_eq!(m.protocol, Some("quic"));
    assert_eq!(m.sni.as_deref(), Some("www.youtube.com"));
    assert_eq!(m.extra("user_agent"), Some("Chrome/79"));
    assert_eq!(m.extra("quic_version"), Some("Q043"));
    assert_eq!(m.extra("quic_family"), Some("gquic"));
}

#[test]
fn gquic_q046_chlo_split_over_two_packets() {
    let chlo = gquic::build_chlo(&[(b"SNI\0", b"www.google.com"), (b"VER\0", b"Q046")]);
    let pkt = |pn: u8, offset: u8, data: &[u8]| {
        let mut p = vec![0xc3u8];
        p.extend_from_slice(b"Q046");
        p.push(0x50);
        p.extend_from_slice(&[0x22; 8]);
        p.extend_from_slice(&[0, 0, 0, pn]);
        p.extend_from_slice(&[0xcd; 12]);
        // STREAM, 2-byte offset, data length, stream 1.
        p.extend_from_slice(&[0xa4, 0x01, 0, offset]);
        p.extend_from_slice(&(data.len() as u16).to_be_bytes());
        p.extend_from_slice(data);
        p
    };
    let d1 = pkt(1, 0, &chlo[..20]);
    let d2 = pkt(2, 20, &chlo[20..]);
    // A second CHLO (after a REJ) starts mid-stream, here at offset 0x0400.
    let mut late = pkt(5, 0, &chlo);
    late[30 + 2] = 0x04;
    let (r, m) = run(&[late], false);
    assert_eq!((r, m.sni.as_deref()), (Parse::Done, Some("www.google.com")));
    assert_eq!(run(std::slice::from_ref(&d1), false).0, Parse::Identified);
    let (r, m) = check_split(&[d2, d1]);
    assert_eq!(r, Parse::Done);
    assert_eq!(m.sni.as_deref(), Some("www.google.com"));
    assert_eq!(m.extra("quic_version"), Some("Q046"));
}

fn run_both(orig: &[Vec<u8>], resp: &[Vec<u8>], last: bool) -> (Parse, Meta) {
    let s = Sides::new(orig, resp);
    let mut m = Meta::default();
    (Quic.parse(&s.payloads(last), &mut m), m)
}

#[test]
fn mid_flow_short_headers_and_gquic_are_heuristic_only_at_the_end() {
    let cid = [0x01, 0xdf, 0xc0, 0xfe, 0x62, 0xc6, 0x40, 0x77];
    let pkt = |b0: u8, cid: &[u8], fill: u8| {
        let mut p = vec![b0];
        p.extend_from_slice(cid);
        p.extend_from_slice(&[fill; 40]);
        p
    };
    let orig = vec![pkt(0x53, &cid, 1), pkt(0x4f, &cid, 2), pkt(0x45, &cid, 3)];
    let resp = vec![pkt(0x40, &[9, 8, 7, 6, 5, 4, 3, 2], 4), pkt(0x44, &[1; 8], 5)];
    assert_eq!(run_both(&orig, &resp, false).0, Parse::NeedMore);
    let (r, m) = run_both(&orig, &resp, true);
    assert_eq!(r, Parse::Identified);
    assert_eq!(m.protocol, Some("quic"));
    assert!(m.evidence.contains(Evidence::HEURISTIC));
    assert_eq!(m.extra("quic_mid_flow"), Some("short_header"));
    // Changing CIDs, or a mix of shapes: not QUIC; rejected early, before
    // the end, once enough datagrams failed to repeat a CID.
    let varied = vec![pkt(0x53, &[1; 8], 1), pkt(0x4f, &[2; 8], 2)];
    assert_eq!(run_both(&varied, &resp, false).0, Parse::NeedMore);
    assert_eq!(run_both(&varied, &resp, true).0, Parse::NotMine);
    let more: Vec<Vec<u8>> = (0..6u8).map(|i| pkt(0x53, &[i; 8], i)).collect();
    assert_eq!(run_both(&more, &[], false).0, Parse::NotMine);
    let mixed = vec![pkt(0x53, &cid, 1), pkt(0x0c, &cid, 2)];
    assert_eq!(run_both(&mixed, &[], false).0, Parse::NotMine);
    // gQUIC: client flags 0x0c with a fixed CID, server flags 0x00.
    let g = vec![pkt(0x0c, &cid, 1), pkt(0x0c, &cid, 2)];
    let gs = vec![pkt(0x00, &[3; 8], 1)];
    let (r, m) = run_both(&g, &gs, true);
    assert_eq!((r, m.extra("quic_family")), (Parse::Identified, Some("gquic")));
    // An OpenVPN-like server answer (0x40 opcode byte) breaks the shape.
    let ovpn = vec![pkt(0x40, &[3; 8], 1)];
    assert_eq!(run_both(&g, &ovpn, true).0, Parse::NotMine);
    // Not on 443/80: not guessed.
    let s = Sides::new(&g, &gs);
    let mut p = s.payloads(true);
    p.resp_port = 5000;
    assert_eq!(Quic.parse(&p, &mut Meta::default()), Parse::NotMine);
}

#[test]
fn server_seen_first_reads_the_client_on_the_other_side() {
    let server_first = vec![unhex(A3_SERVER_PACKET)];
    let client = vec![unhex(A2_V1_PACKET)];
    assert_eq!(run_both(&server_first, &[], false).0, Parse::NeedMore);
    let (r, m) = run_both(&server_first, &client, false);
    assert_eq!(r, Parse::Done);
    assert_eq!(m.sni.as_deref(), Some("example.com"));
    assert_eq!(m.extra("quic_client"), Some("resp"));
    assert_eq!(m.extra("quic_server_cipher"), Some("0x1301"));
}

/// Deterministic byte generator for the garbage tests.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u8 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u8
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next()).collect()
    }
}

#[test]
fn garbage_frames_inside_valid_protection_do_not_panic() {
    let mut g = Lcg(7);
    let hello = a2_hello();
    for round in 0..200 {
        // Random frame bytes, optionally behind a valid CRYPTO frame, with
        // random type bytes biased towards the known ones.
        let mut frames = Vec::new();
        if round % 2 == 0 {
            frames.extend_from_slice(&crypto_frame(0, &hello[..(round % hello.len()).max(1)]));
        }
        for _ in 0..(g.next() % 8) {
            let ty = [0x00, 0x01, 0x02, 0x03, 0x06, 0x1c, 0x1d, 0x08][usize::from(g.next() % 8)];
            frames.push(ty);
            let n = usize::from(g.next() % 24);
            frames.extend(g.bytes(n));
        }
        let d = initial(packet::V1, &DCID, round as u32, &frames, 0);
        let _ = run(std::slice::from_ref(&d), false);
        let _ = run(&[d.clone(), d], true);
    }
    // Random datagrams behind a QUIC-looking first byte and version.
    for round in 0..300u32 {
        let n = usize::from(g.next()) * 5;
        let mut d = g.bytes(n);
        if let Some(b) = d.get_mut(0) {
            *b |= 0x80;
        }
        if d.len() > 5 {
            let v = [packet::V1, packet::V2, 0xff00_001d, 0x5130_3436, 0x5430_3531][round as usize % 5];
            d[1..5].copy_from_slice(&v.to_be_bytes());
            d[5] %= 21;
        }
        let s = Sides::new(&[d.clone(), d.clone()], std::slice::from_ref(&d));
        let _ = Quic.probe(&s.payloads(false));
        let _ = Quic.parse(&s.payloads(true), &mut Meta::default());
    }
}

#[test]
fn engine_reports_a_split_client_hello_flow() {
    use crate::decode::{Addr, PacketView, Tuple};
    use crate::engine::Engine;
    use crate::flow::FlowConfig;
    use std::sync::Arc;

    let hello = a2_hello();
    let d1 = initial(packet::V1, &DCID, 0, &crypto_frame(0, &hello[..120]), 1200);
    let d2 = initial(packet::V1, &DCID, 1, &crypto_frame(120, &hello[120..]), 1200);
    let (a, b) = (Addr::from_v4([192, 0, 2, 1]), Addr::from_v4([198, 51, 100, 7]));
    fn view(a: Addr, b: Addr, ts: u64, payload: &[u8]) -> PacketView<'_> {
        PacketView {
            ts_ns: ts,
            wire_len: 42 + payload.len() as u32,
            tuple: Tuple {
                src: a,
                dst: b,
                sport: 50000,
                dport: 443,
                proto: 17,
            },
            tcp: None,
            payload,
        }
    }
    // The second half arrives first.
    let mut e = Engine::new(FlowConfig::default(), None);
    let src: Arc<str> = Arc::from("test");
    let mut recs = Vec::new();
    e.process(&view(a, b, 1, &d2), &src, &mut |r| recs.push(r));
    e.process(&view(a, b, 2, &d1), &src, &mut |r| recs.push(r));
    e.finish(&src, &mut |r| recs.push(r));
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r.protocol, "quic");
    assert_eq!(r.encryption, Encryption::Encrypted);
    assert_eq!(r.sni.as_deref(), Some("example.com"));
    assert!(r.evidence.contains(Evidence::DPI));
}

#[test]
fn rfc9001_a3_server_initial_completes_the_flow() {
    let client = vec![unhex(A2_V1_PACKET)];
    let server = vec![unhex(A3_SERVER_PACKET)];
    let (r, m) = run_both(&client, &server, false);
    assert_eq!(r, Parse::Done);
    assert_eq!(m.sni.as_deref(), Some("example.com"));
    assert_eq!(m.extra("quic_server"), Some("initial"));
    assert_eq!(m.extra("quic_server_cipher"), Some("0x1301"));
    // A corrupted server packet: answer seen, cipher unknown, so more
    // server datagrams are awaited (up to three).
    let mut bad = server[0].clone();
    bad[100] ^= 1;
    let (r, m) = run_both(&client, std::slice::from_ref(&bad), false);
    assert_eq!(r, Parse::Identified);
    let (r, _) = run_both(&client, &[bad.clone(), bad.clone(), bad.clone()], false);
    assert_eq!(r, Parse::Done);
    let (r, m2) = run_both(&client, &[bad, server[0].clone()], false);
    assert_eq!((r, m2.extra("quic_server_cipher")), (Parse::Done, Some("0x1301")));
    assert_eq!(
        (m.extra("quic_server"), m.extra("quic_server_cipher")),
        (Some("initial"), None)
    );
    // Version negotiation and Retry answers.
    let vn = vec![0x80, 0, 0, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1];
    let (_, m) = run_both(&client, &[vn], false);
    assert_eq!(m.extra("quic_server"), Some("version_negotiation"));
    let retry = unhex("ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba");
    let (_, m) = run_both(&client, &[retry], false);
    assert_eq!(m.extra("quic_server"), Some("retry"));
    // Every prefix of the server datagram: no panic.
    for k in 0..server[0].len() {
        let _ = run_both(&client, &[server[0][..k].to_vec()], true);
    }
}

/// With the flow's state, each server datagram's parse gives what a
/// parse without it gives, and the client side is analysed once: the
/// state is kept while the client's datagrams are the same, and is
/// really read (a different client planted in it shows through).
#[test]
fn state_keeps_the_client_side_and_agrees_with_parse() {
    let client = vec![unhex(A2_V1_PACKET)];
    let mut bad = unhex(A3_SERVER_PACKET);
    bad[100] ^= 1;
    let flights = [
        vec![],
        vec![bad.clone()],
        vec![bad.clone(), bad.clone()],
        vec![bad, unhex(A3_SERVER_PACKET)],
    ];
    let mut state = State::default();
    for server in &flights {
        for last in [false, true] {
            let s = Sides::new(&client, server);
            let p = s.payloads(last);
            let (mut want, mut got) = (Meta::default(), Meta::default());
            let r = Quic.parse(&p, &mut want);
            assert_eq!(
                Quic.parse_with_state(&p, None, &mut state, &mut got),
                r,
                "{} dgrams",
                server.len()
            );
            assert_eq!(got, want, "{} dgrams", server.len());
            assert_eq!(state.get::<Seen>().map(|s| s.at), Some((s.orig.0.len(), 1)));
        }
    }
    // Counted: the kept client and what its hello filled in, not its raw
    // message nor the parsed hello (its fields are in `filled`).
    let held = state.heap_bytes();
    assert!(held > std::mem::size_of::<Seen>() + 100, "{held}");
    let seen = state.get::<Seen>();
    assert!(seen.is_some_and(|s| s.client.hello_msg.is_empty() && s.client.hello.is_none()));
    assert!(seen.is_some_and(|s| s.filled.ja4.is_some() && held >= s.filled.heap_bytes()));
    // Plant another SNI and JA4 in what was filled in: the parse takes
    // them from there, not from the hello again.
    let s = Sides::new(&client, &flights[3]);
    let p = s.payloads(false);
    let Some(seen) = state.get::<Seen>() else {
        panic!("no state")
    };
    let mut planted = seen.filled.clone();
    planted.sni = Some("planted.example".into());
    planted.ja4 = Some("q13d_planted".into());
    let (at, client_seen) = (seen.at, seen.client.clone());
    state.set(
        Seen {
            at,
            client: client_seen,
            filled: planted,
        },
        0,
    );
    let mut m = Meta::default();
    Quic.parse_with_state(&p, None, &mut state, &mut m);
    assert_eq!(m.sni.as_deref(), Some("planted.example"));
    assert_eq!(m.ja4.as_deref(), Some("q13d_planted"));
    // The server's part is still read from this parse's datagrams.
    assert!(
        m.extra("quic_server").is_some() || m.extra("quic_server_cipher").is_some(),
        "{m:?}"
    );
    // More client datagrams: analysed again.
    let more = vec![unhex(A2_V1_PACKET), unhex(A2_V1_PACKET)];
    let s = Sides::new(&more, &flights[3]);
    let mut m = Meta::default();
    Quic.parse_with_state(&s.payloads(false), None, &mut state, &mut m);
    assert_eq!(m.sni.as_deref(), Some("example.com"));
    assert_eq!(state.get::<Seen>().map(|s| s.at.1), Some(2));
}
