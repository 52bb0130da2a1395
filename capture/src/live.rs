//! Live capture from a network interface (Linux AF_PACKET through
//! pnet_datalink).
//!
//! Frames are timestamped when they are read (pnet does not hand out the
//! kernel's timestamp) and their wire length is the length read: the read
//! buffer is large enough for a GRO/GSO super-frame, so nothing is cut.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pnet_datalink::{Channel, Config, FanoutOption, FanoutType};

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

/// From linux/if_packet.h.
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
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
        linux_fanout: opts.fanout.map(|group_id| FanoutOption {
            group_id,
            fanout_type: FanoutType::HASH,
            defrag: true,
            rollover: false,
        }),
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
}
