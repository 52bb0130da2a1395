//! Ground truth: one JSON object per generated flow (`OUT.truth.jsonl`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::addr::in_telegram_ranges;
use super::net::Ends;

/// Kinds of generated flows. The name is the `kind` field of the truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    PlainTcpText,
    PlainTcpBinary,
    PlainUdpText,
    PlainUdpBinary,
    Http,
    Dns,
    Tls,
    Quic,
    MtprotoAbridged,
    MtprotoIntermediate,
    MtprotoPadded,
    Obfs2Abridged,
    Obfs2Intermediate,
    Obfs2Padded,
    FakeTls,
    MtproxySecret,
    MtproxySecretDd,
    Random,
    RandomEf,
}

impl Kind {
    pub const ALL: [Kind; 19] = [
        Kind::PlainTcpText,
        Kind::PlainTcpBinary,
        Kind::PlainUdpText,
        Kind::PlainUdpBinary,
        Kind::Http,
        Kind::Dns,
        Kind::Tls,
        Kind::Quic,
        Kind::MtprotoAbridged,
        Kind::MtprotoIntermediate,
        Kind::MtprotoPadded,
        Kind::Obfs2Abridged,
        Kind::Obfs2Intermediate,
        Kind::Obfs2Padded,
        Kind::FakeTls,
        Kind::MtproxySecret,
        Kind::MtproxySecretDd,
        Kind::Random,
        Kind::RandomEf,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::PlainTcpText => "plain-tcp-text",
            Kind::PlainTcpBinary => "plain-tcp-binary",
            Kind::PlainUdpText => "plain-udp-text",
            Kind::PlainUdpBinary => "plain-udp-binary",
            Kind::Http => "http",
            Kind::Dns => "dns",
            Kind::Tls => "tls",
            Kind::Quic => "quic",
            Kind::MtprotoAbridged => "mtproto-abridged",
            Kind::MtprotoIntermediate => "mtproto-intermediate",
            Kind::MtprotoPadded => "mtproto-padded",
            Kind::Obfs2Abridged => "obfs2-abridged",
            Kind::Obfs2Intermediate => "obfs2-intermediate",
            Kind::Obfs2Padded => "obfs2-padded",
            Kind::FakeTls => "faketls",
            Kind::MtproxySecret => "mtproxy-secret",
            Kind::MtproxySecretDd => "mtproxy-secret-dd",
            Kind::Random => "random",
            Kind::RandomEf => "random-ef",
        }
    }

    pub fn from_name(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Telegram through an MTProxy with a secret: a third-party server,
    /// never in Telegram's ranges.
    pub fn via_secret_mtproxy(self) -> bool {
        matches!(self, Kind::MtproxySecret | Kind::MtproxySecretDd)
    }

    /// Telegram traffic (whatever the evidence for it).
    pub fn is_telegram(self) -> bool {
        matches!(
            self,
            Kind::MtprotoAbridged
                | Kind::MtprotoIntermediate
                | Kind::MtprotoPadded
                | Kind::Obfs2Abridged
                | Kind::Obfs2Intermediate
                | Kind::Obfs2Padded
                | Kind::FakeTls
                | Kind::MtproxySecret
                | Kind::MtproxySecretDd
        )
    }
}

/// Encryption class, as the classifier names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Enc {
    Cleartext,
    Encrypted,
    FullyEncrypted,
    Unknown,
}

/// One line of the truth file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub orig_ip: IpAddr,
    pub orig_port: u16,
    pub resp_ip: IpAddr,
    pub resp_port: u16,
    /// `tcp` or `udp`.
    pub transport: String,
    pub kind: String,
    /// Protocol as the classifier names it; `unknown` when none applies.
    pub protocol: String,
    pub app: Option<String>,
    pub encryption: Enc,
    pub sni: Option<String>,
    /// The payload itself proves the application (MTProto framing,
    /// obfuscated2 header, a server name of the app).
    pub provable: bool,
    /// The responder address is in the application's published ranges.
    pub in_app_ranges: bool,
    /// HTTP Host or DNS query name, when the flow has one.
    pub host: Option<String>,
    pub vlan: Option<u16>,
    /// Packets per direction, handshake and close included.
    pub orig_pkts: u64,
    pub resp_pkts: u64,
}

impl Truth {
    pub fn new(kind: Kind, ends: &Ends, tcp: bool, protocol: &str, encryption: Enc) -> Truth {
        Truth {
            orig_ip: ends.orig.ip(),
            orig_port: ends.orig.port(),
            resp_ip: ends.resp.ip(),
            resp_port: ends.resp.port(),
            transport: if tcp { "tcp" } else { "udp" }.into(),
            kind: kind.name().into(),
            protocol: protocol.into(),
            app: None,
            encryption,
            sni: None,
            provable: false,
            in_app_ranges: false,
            host: None,
            vlan: ends.vlan,
            orig_pkts: 0,
            resp_pkts: 0,
        }
    }

    /// Sets the application, and `in_app_ranges` from the responder address
    /// (only Telegram's ranges are modelled; other servers come from
    /// reserved ranges that belong to no application).
    pub fn app(mut self, app: Option<&str>, provable: bool) -> Truth {
        self.in_app_ranges = app == Some("telegram") && in_telegram_ranges(self.resp_ip);
        self.app = app.map(str::to_string);
        self.provable = provable;
        self
    }

    pub fn pkts(mut self, p: [u64; 2]) -> Truth {
        self.orig_pkts = p[0];
        self.resp_pkts = p[1];
        self
    }
}
