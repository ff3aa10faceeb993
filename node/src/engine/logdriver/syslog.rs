//! The `syslog` log driver: each output line becomes one syslog message, RFC 3164
//! (the default) or RFC 5424, over udp, tcp, unix (stream) or unixgram.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use shoal_api::stream::{OutputChunk, StdStream};

/// How long connecting or one write to the syslog server may take.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and how to send, from the `syslog-*` and `tag` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogSpec {
    /// Parsed `syslog-address`.
    pub address: Address,
    /// `syslog-format`.
    pub format: Format,
    /// `syslog-facility` as its number.
    pub facility: u8,
    /// `tag` template (expanded per container).
    pub tag: String,
}

/// A `syslog-address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `udp://host:port` (port 514 by default).
    Udp(String),
    /// `tcp://host:port`.
    Tcp(String),
    /// `unix:///path` (stream socket).
    Unix(String),
    /// `unixgram:///path`; also the default `/dev/log`.
    Unixgram(String),
}

/// `syslog-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `rfc3164` (the default).
    Rfc3164,
    /// `rfc5424`.
    Rfc5424,
    /// `rfc5424micro`: RFC 5424 with microsecond timestamps.
    Rfc5424Micro,
}

const FACILITIES: &[&str] = &[
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "", "", "", "", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
    "local7",
];

/// Parses `syslog-address` as dockerd does.
pub fn parse_address(raw: &str) -> Result<Address, String> {
    if raw.is_empty() {
        return Ok(Address::Unixgram("/dev/log".into()));
    }
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or_else(|| format!("unsupported scheme: '{raw}'"))?;
    let host_port = |rest: &str| -> Result<String, String> {
        if rest.is_empty() {
            return Err(format!("syslog-address {raw}: missing host"));
        }
        Ok(
            if rest
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            {
                rest.to_owned()
            } else {
                format!("{rest}:514")
            },
        )
    };
    match scheme {
        "udp" => Ok(Address::Udp(host_port(rest)?)),
        "tcp" => Ok(Address::Tcp(host_port(rest)?)),
        "unix" => Ok(Address::Unix(rest.to_owned())),
        "unixgram" => Ok(Address::Unixgram(rest.to_owned())),
        "tcp+tls" => Err("syslog-address tcp+tls is not supported by Shoal".into()),
        other => Err(format!("unsupported scheme: '{other}'")),
    }
}

/// Parses `syslog-format`.
pub fn parse_format(raw: &str) -> Result<Format, String> {
    match raw {
        "" | "rfc3164" => Ok(Format::Rfc3164),
        "rfc5424" => Ok(Format::Rfc5424),
        "rfc5424micro" => Ok(Format::Rfc5424Micro),
        other => Err(format!("Invalid syslog format: {other}")),
    }
}

/// Parses `syslog-facility` (a name or its number).
pub fn parse_facility(raw: &str) -> Result<u8, String> {
    if raw.is_empty() {
        return Ok(3); // daemon
    }
    if let Ok(n) = raw.parse::<u8>()
        && usize::from(n) < FACILITIES.len()
    {
        return Ok(n);
    }
    FACILITIES
        .iter()
        .position(|f| !f.is_empty() && *f == raw)
        .and_then(|i| u8::try_from(i).ok())
        .ok_or_else(|| "invalid syslog facility".to_owned())
}

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Unix(UnixStream),
    Unixgram(UnixDatagram),
}

/// A connection to the syslog server for one container.
pub struct SyslogWriter {
    conn: Conn,
    format: Format,
    facility: u8,
    tag: String,
    hostname: String,
    pid: u32,
}

impl std::fmt::Debug for SyslogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogWriter")
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

fn connect(addr: &Address) -> std::io::Result<Conn> {
    match addr {
        Address::Udp(a) => {
            let target = a
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| std::io::Error::other(format!("no address for {a}")))?;
            let bind = if target.is_ipv6() {
                "[::]:0"
            } else {
                "0.0.0.0:0"
            };
            let s = UdpSocket::bind(bind)?;
            s.connect(target)?;
            s.set_write_timeout(Some(IO_TIMEOUT))?;
            Ok(Conn::Udp(s))
        }
        Address::Tcp(a) => {
            let target = a
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| std::io::Error::other(format!("no address for {a}")))?;
            let s = TcpStream::connect_timeout(&target, IO_TIMEOUT)?;
            s.set_write_timeout(Some(IO_TIMEOUT))?;
            Ok(Conn::Tcp(s))
        }
        Address::Unix(p) => {
            let s = UnixStream::connect(p)?;
            s.set_write_timeout(Some(IO_TIMEOUT))?;
            Ok(Conn::Unix(s))
        }
        Address::Unixgram(p) => {
            let s = UnixDatagram::unbound()?;
            s.connect(p)?;
            s.set_write_timeout(Some(IO_TIMEOUT))?;
            Ok(Conn::Unixgram(s))
        }
    }
}

impl SyslogWriter {
    /// Connects (a tcp or unix server that is not there fails the container's start, as
    /// with dockerd). `tag` is already expanded.
    pub fn connect(spec: &SyslogSpec, tag: String) -> std::io::Result<SyslogWriter> {
        let hostname = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "localhost".into());
        Ok(SyslogWriter {
            conn: connect(&spec.address)?,
            format: spec.format,
            facility: spec.facility,
            tag,
            hostname,
            pid: std::process::id(),
        })
    }

    /// The message for one line (without framing).
    fn message(&self, stream: StdStream, line: &[u8]) -> Vec<u8> {
        // info for stdout, err for stderr, as dockerd.
        let severity = if stream == StdStream::Stderr { 3 } else { 6 };
        let pri = u16::from(self.facility) * 8 + severity;
        let now = Utc::now();
        let text = String::from_utf8_lossy(line);
        let head = match self.format {
            Format::Rfc3164 => format!(
                "<{pri}>{} {} {}[{}]: ",
                now.format("%b %e %H:%M:%S"),
                self.hostname,
                self.tag,
                self.pid
            ),
            Format::Rfc5424 | Format::Rfc5424Micro => {
                let ts = if self.format == Format::Rfc5424 {
                    now.to_rfc3339_opts(SecondsFormat::Secs, true)
                } else {
                    now.to_rfc3339_opts(SecondsFormat::Micros, true)
                };
                format!(
                    "<{pri}>1 {ts} {} {} {} {} - ",
                    self.hostname, self.tag, self.pid, self.tag
                )
            }
        };
        let mut msg = head.into_bytes();
        msg.extend_from_slice(text.as_bytes());
        msg
    }

    /// Sends each line of `chunk` as one message (empty lines are skipped, as dockerd).
    pub fn write(&mut self, chunk: &OutputChunk) -> std::io::Result<()> {
        for line in chunk.data.split(|b| *b == b'\n') {
            if line.is_empty() {
                continue;
            }
            let mut msg = self.message(chunk.stream, line);
            match &mut self.conn {
                Conn::Udp(s) => {
                    s.send(&msg)?;
                }
                Conn::Unixgram(s) => {
                    s.send(&msg)?;
                }
                // Stream transports: one message per line (newline framing).
                Conn::Tcp(s) => {
                    msg.push(b'\n');
                    s.write_all(&msg)?;
                }
                Conn::Unix(s) => {
                    msg.push(b'\n');
                    s.write_all(&msg)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_formats_and_facilities_parse_like_dockerd() {
        assert_eq!(
            parse_address("udp://127.0.0.1").unwrap(),
            Address::Udp("127.0.0.1:514".into())
        );
        assert_eq!(
            parse_address("tcp://h:601").unwrap(),
            Address::Tcp("h:601".into())
        );
        assert_eq!(
            parse_address("unix:///dev/log").unwrap(),
            Address::Unix("/dev/log".into())
        );
        assert!(
            parse_address("http://x")
                .unwrap_err()
                .contains("unsupported scheme")
        );
        assert_eq!(parse_format("rfc5424").unwrap(), Format::Rfc5424);
        assert!(parse_format("x").is_err());
        assert_eq!(parse_facility("local0").unwrap(), 16);
        assert_eq!(parse_facility("").unwrap(), 3);
        assert!(parse_facility("nope").is_err());
    }

    #[test]
    fn udp_messages_carry_priority_tag_and_line() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let spec = SyslogSpec {
            address: Address::Udp(server.local_addr().unwrap().to_string()),
            format: Format::Rfc5424,
            facility: 3,
            tag: String::new(),
        };
        let mut w = SyslogWriter::connect(&spec, "web".into()).unwrap();
        w.write(&OutputChunk {
            stream: StdStream::Stderr,
            data: bytes::Bytes::from_static(b"boom\n"),
            timestamp: None,
        })
        .unwrap();
        let mut buf = [0u8; 1024];
        let n = server.recv(&mut buf).unwrap();
        let msg = String::from_utf8_lossy(&buf[..n]);
        assert!(msg.starts_with("<27>1 "), "{msg}");
        assert!(msg.ends_with(" web - boom"), "{msg}");
    }
}
