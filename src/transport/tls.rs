//! TLS 1.2+ with mbedTLS over a [`Connection`]: ALPN `h2` required, the server certificate and its
//! host name always verified against the configured CA bundle. A verification failure is an error
//! that names the problem; there is no fallback to an unverified session.

use std::sync::Arc;

use mbedtls::error::codes;
use mbedtls::rng::{CtrDrbg, OsEntropy};
use mbedtls::ssl::config::{AuthMode, Endpoint, NullTerminatedStrList, Preset, Transport, Version};
use mbedtls::ssl::io::Io;
use mbedtls::ssl::{Config, Context};
use mbedtls::x509::{Certificate, VerifyError};

use super::io::{Connection, IoError};

/// What went wrong while setting up or using TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsError {
    /// The CA bundle held no certificate mbedTLS could parse.
    BadCaBundle(String),
    /// The server's certificate chain did not verify; the text names each problem.
    CertificateRejected(String),
    /// The server did not agree to HTTP/2 through ALPN.
    NoH2,
    /// Any other TLS failure (handshake alert, protocol error), with mbedTLS's description.
    Protocol(String),
    /// The byte stream under TLS failed or closed.
    Io(IoError),
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsError::BadCaBundle(s) => write!(f, "CA bundle not usable: {s}"),
            TlsError::CertificateRejected(s) => write!(f, "server certificate rejected: {s}"),
            TlsError::NoH2 => write!(f, "server did not negotiate ALPN h2"),
            TlsError::Protocol(s) => write!(f, "TLS error: {s}"),
            TlsError::Io(IoError::Closed) => write!(f, "connection closed by peer"),
            TlsError::Io(IoError::Failed(errno)) => write!(f, "network error: {}", super::io::describe_errno(*errno)),
            TlsError::Io(IoError::WouldBlock) => write!(f, "would block"),
        }
    }
}

/// The TLS settings shared by every connection of a client: parsed once, at creation.
pub struct TlsConfig {
    config: Arc<Config>,
}

impl TlsConfig {
    /// Builds a client configuration trusting the PEM (or DER) certificates in `ca`.
    pub fn new(ca: &[u8]) -> Result<Self, TlsError> {
        let is_pem = ca.windows(11).any(|w| w == b"-----BEGIN ");
        let ca_list = if is_pem {
            // mbedTLS parses PEM only from a NUL-terminated buffer.
            let mut pem = Vec::with_capacity(ca.len() + 1);
            pem.extend_from_slice(ca);
            if pem.last() != Some(&0) {
                pem.push(0);
            }
            Certificate::from_pem_multiple(&pem)
        } else {
            Certificate::from_der(ca).map(|c| {
                let mut list = mbedtls::alloc::List::new();
                list.push(c);
                list
            })
        }
        .map_err(|e| TlsError::BadCaBundle(e.to_string()))?;
        let entropy = Arc::new(OsEntropy::new());
        let rng = Arc::new(CtrDrbg::new(entropy, None).map_err(|e| TlsError::Protocol(e.to_string()))?);
        let mut config = Config::new(Endpoint::Client, Transport::Stream, Preset::Default);
        config.set_rng(rng);
        config.set_min_version(Version::Tls1_2).map_err(|e| TlsError::Protocol(e.to_string()))?;
        config.set_authmode(AuthMode::Required);
        config.set_ca_list(Arc::new(ca_list), None);
        // ChaCha20-Poly1305 first: without AES instructions (most ARM boards, and mbedTLS's
        // software AES here) it costs far less per record than AES-GCM, and a voice turn is
        // hundreds of small records. AES-GCM stays for servers without it. Zero-terminated.
        const SUITES: [i32; 7] = [0xCCA9, 0xCCA8, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0];
        config.set_ciphersuites(Arc::new(SUITES.to_vec()));

        let alpn = NullTerminatedStrList::new(&["h2"]).map_err(|e| TlsError::Protocol(e.to_string()))?;
        config.set_alpn_protocols(Arc::new(alpn)).map_err(|e| TlsError::Protocol(e.to_string()))?;
        Ok(TlsConfig { config: Arc::new(config) })
    }
}

/// Adapts a [`Connection`] to mbedTLS's I/O callbacks.
struct NetIo {
    conn: Box<dyn Connection>,
    /// The last error below TLS, kept so that a failure can be reported as what it was.
    last_error: Option<IoError>,
}

impl Io for NetIo {
    fn recv(&mut self, buf: &mut [u8]) -> mbedtls::Result<usize> {
        match self.conn.recv(buf) {
            Ok(n) => Ok(n),
            Err(IoError::WouldBlock) => Err(codes::SslWantRead.into()),
            Err(e) => {
                self.last_error = Some(e);
                Err(codes::NetRecvFailed.into())
            }
        }
    }

    fn send(&mut self, buf: &[u8]) -> mbedtls::Result<usize> {
        match self.conn.send(buf) {
            Ok(n) => Ok(n),
            Err(IoError::WouldBlock) => Err(codes::SslWantWrite.into()),
            Err(e) => {
                self.last_error = Some(e);
                Err(codes::NetSendFailed.into())
            }
        }
    }
}

/// One TLS session over one byte stream, non-blocking.
pub struct TlsStream {
    ctx: Context<NetIo>,
    fd: Option<i32>,
    established: bool,
}

fn is_want(e: &mbedtls::Error) -> bool {
    matches!(e.high_level(), Some(codes::SslWantRead | codes::SslWantWrite))
}

impl TlsStream {
    /// Starts the handshake with `host` (used for SNI and certificate host-name verification).
    pub fn start(config: &TlsConfig, conn: Box<dyn Connection>, host: &str) -> Result<Self, TlsError> {
        let fd = conn.fd();
        let mut ctx = Context::new(config.config.clone());
        // Context::new ignores mbedtls_ssl_setup's result; when allocating the record buffers
        // failed they are NULL and the first handshake step would crash. Refuse that session.
        let raw: *mut mbedtls_sys::ssl_context = (&mut ctx).into();
        // SAFETY: `raw` points at the context just initialised; only two pointers are read.
        if unsafe { (*raw).in_buf.is_null() || (*raw).out_buf.is_null() } {
            return Err(TlsError::Protocol("out of memory for the TLS record buffers".into()));
        }
        let mut stream = TlsStream { ctx, fd, established: false };
        let io = NetIo { conn, last_error: None };
        match stream.ctx.establish(io, Some(host)) {
            Ok(()) => {
                stream.finish_handshake()?;
            }
            Err(e) if is_want(&e) => {}
            Err(e) => return Err(stream.describe(e)),
        }
        Ok(stream)
    }

    /// Advances the handshake; `Ok(true)` once the session is established and ALPN chose h2.
    pub fn handshake(&mut self) -> Result<bool, TlsError> {
        if self.established {
            return Ok(true);
        }
        match self.ctx.handshake() {
            Ok(()) => {
                self.finish_handshake()?;
                Ok(true)
            }
            Err(e) if is_want(&e) => Ok(false),
            Err(e) => Err(self.describe(e)),
        }
    }

    fn finish_handshake(&mut self) -> Result<(), TlsError> {
        match self.ctx.get_alpn_protocol() {
            Ok(Some("h2")) => {
                self.established = true;
                Ok(())
            }
            _ => Err(TlsError::NoH2),
        }
    }

    /// Turns an mbedTLS error into one that names the actual problem.
    fn describe(&self, e: mbedtls::Error) -> TlsError {
        if e.high_level() == Some(codes::X509CertVerifyFailed) {
            let flags = self.ctx.verify_result().err().unwrap_or(VerifyError::empty());
            let mut text = String::new();
            let named = [
                (VerifyError::CERT_NOT_TRUSTED, "not signed by a trusted CA"),
                (VerifyError::CERT_CN_MISMATCH, "host name mismatch"),
                (VerifyError::CERT_EXPIRED, "certificate expired"),
                (VerifyError::CERT_FUTURE, "certificate not yet valid"),
                (VerifyError::CERT_REVOKED, "certificate revoked"),
                (VerifyError::CERT_KEY_USAGE, "key usage not allowed"),
                (VerifyError::CERT_EXT_KEY_USAGE, "extended key usage not allowed"),
                (VerifyError::CERT_BAD_KEY, "unacceptable key"),
                (VerifyError::CERT_BAD_MD, "unacceptable signature hash"),
            ];
            for (flag, what) in named {
                if flags.contains(flag) {
                    if !text.is_empty() {
                        text.push_str(", ");
                    }
                    text.push_str(what);
                }
            }
            if text.is_empty() {
                text.push_str("verification failed");
            }
            return TlsError::CertificateRejected(text);
        }
        if let Some(io) = self.ctx.io().and_then(|io| io.last_error) {
            return TlsError::Io(io);
        }
        match e.high_level() {
            Some(codes::SslPeerCloseNotify | codes::SslConnEof) => TlsError::Io(IoError::Closed),
            _ => TlsError::Protocol(e.to_string()),
        }
    }

    /// Encrypts and sends some of `buf`; with `WouldBlock`, call again later with the same bytes.
    pub fn send(&mut self, buf: &[u8]) -> Result<usize, TlsError> {
        match self.ctx.send(buf) {
            Ok(n) => Ok(n),
            Err(e) if is_want(&e) => Err(TlsError::Io(IoError::WouldBlock)),
            Err(e) => Err(self.describe(e)),
        }
    }

    /// Receives decrypted bytes; `Err(Io(Closed))` at the end of the session.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, TlsError> {
        match self.ctx.recv(buf) {
            Ok(0) => Err(TlsError::Io(IoError::Closed)),
            Ok(n) => Ok(n),
            Err(e) if is_want(&e) => Err(TlsError::Io(IoError::WouldBlock)),
            Err(e) => Err(self.describe(e)),
        }
    }

    /// Whether the handshake has completed.
    pub fn is_established(&self) -> bool {
        self.established
    }

    /// The socket descriptor under this session, if the network has one.
    pub fn fd(&self) -> Option<i32> {
        self.fd
    }
}
