//! Live capture from a network interface (Linux AF_PACKET through
//! pnet_datalink).
//!
//! Frames are timestamped when they are read (pnet does not hand out the
//! kernel's timestamp) and their wire length is the length read: the read
//! buffer is large enough for a GRO/GSO super-frame, so nothing is cut.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pnet_datalink::{Channel, Config};

use crate::{CaptureError, RawPacket, ReadReport};

/// Largest frame read in one piece (a 64 KiB GSO frame plus headers fits).
const READ_BUFFER: usize = 256 * 1024;
/// The loop looks at the stop flag and the deadline at least this often.
const MAX_POLL: Duration = Duration::from_millis(100);

const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_RAW: u32 = 101;

/// How long and how much to capture.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many packets.
    pub count: Option<u64>,
    /// Join this PACKET_FANOUT group (hash mode: both directions of a flow
    /// land on the same socket), for one reader per core.
    pub fanout: Option<u16>,
    /// How long one read waits for a frame; capped at 100 ms so the stop
    /// flag and the deadline are checked at least that often.
    pub read_timeout: Duration,
    /// Put the interface in promiscuous mode.
    pub promiscuous: bool,
}

impl Default for LiveOptions {
    fn default() -> LiveOptions {
        LiveOptions {
            duration: None,
            count: None,
            fanout: None,
            read_timeout: MAX_POLL,
            promiscuous: true,
        }
    }
}

fn live_err(iface: &str, reason: String) -> CaptureError {
    CaptureError::Live {
        iface: iface.to_string(),
        reason,
    }
}

/// The pcap link type of what an AF_PACKET raw socket reads on `iface`,
/// from the interface's ARPHRD type in sysfs.
fn linktype_of(iface: &str) -> Result<u32, CaptureError> {
    let path = format!("/sys/class/net/{iface}/type");
    let Ok(text) = std::fs::read_to_string(&path) else {
        // No sysfs (unusual containers): assume Ethernet framing.
        return Ok(LINKTYPE_ETHERNET);
    };
    match text.trim().parse::<u32>() {
        // ARPHRD_ETHER, and ARPHRD_LOOPBACK whose frames carry an Ethernet header.
        Ok(1) | Ok(ARPHRD_LOOPBACK) => Ok(LINKTYPE_ETHERNET),
        // ARPHRD_NONE (tun, WireGuard): bare IP packets.
        Ok(65534) => Ok(LINKTYPE_RAW),
        Ok(t) => Err(live_err(
            iface,
            format!("interface hardware type {t} is not supported for live capture (Ethernet, loopback and tun are)"),
        )),
        Err(_) => Ok(LINKTYPE_ETHERNET),
    }
}

/// Opens the AF_PACKET socket that pnet then binds to the interface.
///
/// Opened here rather than by pnet for two reasons, both as libpcap does:
/// - protocol 0: the socket receives nothing until it is bound to the
///   interface (pnet's own socket takes every interface's frames between
///   `socket()` and `bind()`);
/// - on loopback, every frame passes twice (out and in): the outgoing copy
///   is dropped with `PACKET_IGNORE_OUTGOING` (Linux 4.20+; on older
///   kernels each loopback frame is seen twice).
fn open_socket(loopback: bool) -> io::Result<i32> {
    // SAFETY: socket() takes no pointers; the result is checked below.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    if loopback {
        let one: libc::c_int = 1;
        // SAFETY: `fd` is the socket opened above; setsockopt reads exactly
        // size_of::<c_int>() bytes from `one`, which lives across the call.
        // A failure (old kernel) is harmless and ignored.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_PACKET,
                PACKET_IGNORE_OUTGOING,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    Ok(fd)
}

/// Joins PACKET_FANOUT group `group` in hash mode (both directions of a
/// flow reach the same socket), with IP defragmentation.
///
/// Done here rather than through pnet's `linux_fanout` because a fanout
/// group replaces the socket's own receive hook: `PACKET_IGNORE_OUTGOING`
/// no longer applies and loopback frames would be seen twice. The group's
/// flag `PACKET_FANOUT_FLAG_IGNORE_OUTGOING` (recent kernels; older ones
/// refuse it and loopback frames are then seen twice) does the same, and
/// pnet cannot pass it.
fn join_fanout(fd: i32, group: u16, loopback: bool) -> io::Result<()> {
    let set = |flags: u32| -> io::Result<()> {
        let arg: libc::c_uint = u32::from(group) | (flags << 16);
        // SAFETY: `fd` is an open packet socket (the caller keeps its
        // owner alive); setsockopt reads exactly size_of::<c_uint>() bytes
        // from `arg`, which lives across the call.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_PACKET,
                PACKET_FANOUT,
                (&arg as *const libc::c_uint).cast(),
                std::mem::size_of::<libc::c_uint>() as libc::socklen_t,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    let flags = PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG;
    if loopback && set(flags | PACKET_FANOUT_FLAG_IGNORE_OUTGOING).is_ok() {
        return Ok(());
    }
    set(flags)
}

// From linux/if_packet.h.
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const PACKET_FANOUT: libc::c_int = 18;
const PACKET_FANOUT_HASH: u32 = 0;
const PACKET_FANOUT_FLAG_IGNORE_OUTGOING: u32 = 0x4000;
const PACKET_FANOUT_FLAG_DEFRAG: u32 = 0x8000;
const ARPHRD_LOOPBACK: u32 = 772;

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// What [`capture_events`] hands its callback.
#[derive(Debug)]
pub enum LiveEvent<'a, 'b> {
    Packet(&'a RawPacket<'b>),
    /// Wall-clock time (ns since the epoch), at least every 100 ms whether
    /// or not packets arrive: the moment to expire idle flows.
    Tick(u64),
}

/// Captures from `iface` until the duration or count is reached, `stop`
/// is set, or `f` returns `false`.
///
/// A failure after the capture started (the interface went away) ends the
/// capture with a [`crate::ReadWarning`] whose offset is the number of
/// bytes captured until then; the packets before it were delivered.
pub fn capture(
    iface: &str,
    opts: &LiveOptions,
    stop: &AtomicBool,
    f: &mut dyn FnMut(&RawPacket<'_>) -> bool,
) -> Result<ReadReport, CaptureError> {
    capture_events(iface, opts, stop, &mut |e| match e {
        LiveEvent::Packet(p) => f(p),
        LiveEvent::Tick(_) => true,
    })
}

/// [`capture`], with [`LiveEvent::Tick`]s between the packets.
pub fn capture_events(
    iface: &str,
    opts: &LiveOptions,
    stop: &AtomicBool,
    f: &mut dyn FnMut(LiveEvent<'_, '_>) -> bool,
) -> Result<ReadReport, CaptureError> {
    let all = pnet_datalink::interfaces();
    let Some(ni) = all.iter().find(|i| i.name == iface) else {
        let names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
        return Err(live_err(
            iface,
            format!("no such interface (available: {})", names.join(", ")),
        ));
    };
    let linktype = linktype_of(iface)?;
    let loopback = ni.is_loopback();
    let fd = match open_socket(loopback) {
        Ok(fd) => fd,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Err(live_err(
                iface,
                format!("cannot capture: {e} (live capture needs root or CAP_NET_RAW)"),
            ))
        }
        Err(e) => return Err(live_err(iface, format!("cannot open a capture socket: {e}"))),
    };
    // pnet owns `fd` from here on: it closes it on error and on drop.
    let cfg = Config {
        socket_fd: Some(fd),
        read_buffer_size: READ_BUFFER,
        write_buffer_size: 64,
        read_timeout: Some(opts.read_timeout.clamp(Duration::from_millis(1), MAX_POLL)),
        // Fanout is joined below, not through pnet: see `join_fanout`.
        linux_fanout: None,
        promiscuous: opts.promiscuous,
        ..Config::default()
    };
    let mut rx = match pnet_datalink::channel(ni, cfg) {
        Ok(Channel::Ethernet(_tx, rx)) => rx,
        Ok(_) => return Err(live_err(iface, "unsupported channel type".into())),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Err(live_err(
                iface,
                format!("cannot capture: {e} (live capture needs root or CAP_NET_RAW)"),
            ))
        }
        Err(e) => return Err(live_err(iface, format!("cannot open a capture socket: {e}"))),
    };

    if let Some(group) = opts.fanout {
        // `fd` stays open while `rx` (which owns it) lives.
        join_fanout(fd, group, loopback)
            .map_err(|e| live_err(iface, format!("cannot join fanout group {group}: {e}")))?;
    }

    let mut rep = ReadReport::new("live");
    let deadline = opts.duration.map(|d| Instant::now() + d);
    let mut last_tick = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            rep.stopped = true;
            break;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) || opts.count.is_some_and(|c| rep.packets >= c) {
            break;
        }
        if now.duration_since(last_tick) >= MAX_POLL {
            last_tick = now;
            if !f(LiveEvent::Tick(now_ns())) {
                rep.stopped = true;
                break;
            }
        }
        match rx.next() {
            Ok(data) => {
                let pkt = RawPacket {
                    ts_ns: now_ns(),
                    linktype,
                    wire_len: u32::try_from(data.len()).unwrap_or(u32::MAX),
                    data,
                };
                rep.packets += 1;
                rep.bytes += u64::from(pkt.wire_len);
                if !f(LiveEvent::Packet(&pkt)) {
                    rep.stopped = true;
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) => {}
            Err(e) => {
                rep.damage(rep.bytes, format!("capture on {iface} failed: {e}"));
                break;
            }
        }
    }
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_interface_is_a_clear_error() {
        let stop = AtomicBool::new(false);
        let err = capture("baikal-no-such0", &LiveOptions::default(), &stop, &mut |_| true).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("baikal-no-such0: no such interface"), "{msg}");
    }

    #[test]
    fn loopback_is_ethernet_framed() {
        // `lo` exists on every Linux host with sysfs; its frames carry an
        // Ethernet header on AF_PACKET.
        if std::path::Path::new("/sys/class/net/lo/type").exists() {
            assert_eq!(linktype_of("lo").unwrap(), LINKTYPE_ETHERNET);
        }
    }

    fn is_root() -> bool {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))
                    .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
            })
            .unwrap_or(false)
    }

    /// Captures our own datagrams on loopback through a fanout group: each
    /// is seen once (the outgoing copy is ignored), framed as Ethernet.
    #[test]
    fn loopback_capture_with_fanout_sees_each_datagram_once() {
        if !is_root() {
            eprintln!("SKIP: live capture needs root");
            return;
        }
        use std::sync::Arc;
        let stop = Arc::new(AtomicBool::new(false));
        let marker = format!("baikal-live-unit-{}-", std::process::id());
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let dst = rx.local_addr().unwrap();
        let sender = {
            let stop = Arc::clone(&stop);
            let marker = marker.clone();
            std::thread::spawn(move || {
                let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                // Until the capture has what it wants, or 10 s at most.
                for seq in 0..500u32 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let _ = tx.send_to(format!("{marker}{seq:06}").as_bytes(), dst);
                    std::thread::sleep(Duration::from_millis(20));
                }
                stop.store(true, Ordering::Relaxed);
            })
        };
        let opts = LiveOptions {
            // A group of our own: other processes may capture on lo too.
            fanout: Some(std::process::id() as u16),
            ..LiveOptions::default()
        };
        let mut seqs: Vec<Vec<u8>> = Vec::new();
        let rep = capture("lo", &opts, &stop, &mut |p| {
            let m = marker.as_bytes();
            if let Some(at) = p.data.windows(m.len()).position(|w| w == m) {
                assert_eq!(p.linktype, LINKTYPE_ETHERNET);
                assert_eq!(p.wire_len as usize, p.data.len());
                seqs.push(p.data[at + m.len()..].to_vec());
            }
            seqs.len() < 5
        })
        .unwrap();
        stop.store(true, Ordering::Relaxed);
        sender.join().unwrap();
        assert_eq!(seqs.len(), 5, "saw {seqs:?}");
        let mut unique = seqs.clone();
        unique.dedup();
        assert_eq!(unique, seqs, "a datagram was seen twice");
        assert!(rep.stopped);
        assert!(rep.packets >= 5);
    }
}
