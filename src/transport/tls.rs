//! TLS 1.2+ with mbedTLS over a [`Connection`]: ALPN `h2` required, the server certificate and its
//! host name always verified against the configured CA bundle. A verification failure is an error
//! that names the problem; there is no fallback to an unverified session.
//!
//! An endpoint given as an IP address is matched against the certificate's iPAddress
//! subjectAltNames only (RFC 6125 §6.2.1; mbedTLS 2.28 matches dNSName entries only), by
//! [`verify_ip`]; a name is matched by mbedTLS against dNSName entries (or the CN without SANs).

use std::mem::ManuallyDrop;
use std::net::IpAddr;
use std::os::raw::{c_int, c_void};
use std::ptr::NonNull;
use std::sync::Arc;

use mbedtls::error::codes;
use mbedtls::rng::{CtrDrbg, OsEntropy};
use mbedtls::ssl::config::{AuthMode, Endpoint, NullTerminatedStrList, Preset, Transport, Version};
use mbedtls::ssl::io::Io;
use mbedtls::ssl::{Config, Context};
use mbedtls::x509::{Certificate, VerifyError};

use super::io::{Connection, IoError};
use super::pool::{Pool, PoolBox};

/// What went wrong while setting up or using TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsError {
    /// The CA bundle held no certificate mbedTLS could parse.
    BadCaBundle(String),
    /// The server's certificate chain did not verify; the text names each problem.
    CertificateRejected(String),
    /// The server did not agree to HTTP/2 through ALPN.
    NoH2,
    /// mbedTLS ran out of its memory (`tls_memory_bytes`).
    NoMemory,
    /// Any other TLS failure (handshake alert, protocol error), with mbedTLS's description.
    Protocol(String),
    /// The byte stream never connected: every address tried, and why each failed.
    Connect(String),
    /// The byte stream under TLS failed or closed.
    Io(IoError),
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsError::BadCaBundle(s) => write!(f, "CA bundle not usable: {s}"),
            TlsError::CertificateRejected(s) => write!(f, "server certificate rejected: {s}"),
            TlsError::NoH2 => write!(f, "server did not negotiate ALPN h2"),
            TlsError::NoMemory => write!(f, "TLS out of memory"),
            TlsError::Protocol(s) => write!(f, "TLS error: {s}"),
            TlsError::Connect(s) => write!(f, "could not connect: {s}"),
            TlsError::Io(IoError::Closed) => write!(f, "connection closed by peer"),
            TlsError::Io(IoError::Failed(errno)) => write!(f, "network error: {}", super::io::describe_errno(*errno)),
            TlsError::Io(IoError::WouldBlock) => write!(f, "would block"),
        }
    }
}

/// What a session speaks over TLS, agreed through ALPN.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Alpn {
    /// HTTP/2, required (AVS).
    H2,
    /// HTTP/1.1: offered; a server that names no protocol is taken to speak it (the token
    /// endpoint of Login with Amazon).
    Http1,
}

/// The TLS settings shared by every connection of a client: parsed once, at creation. One CA
/// set, random generator and cipher list; one configuration per protocol spoken (mbedTLS keeps
/// the ALPN list in the configuration).
pub struct TlsConfig {
    config: ManuallyDrop<Arc<Config>>,
    /// For HTTP/1.1 sessions, when the client has any (sign-in with Login with Amazon).
    http1: Option<ManuallyDrop<Arc<Config>>>,
    /// Where mbedTLS's memory for this client comes from.
    pool: NonNull<Pool>,
}

impl Drop for TlsConfig {
    fn drop(&mut self) {
        let _scope = mem::Scope::enter(self.pool.as_ptr());
        // SAFETY: dropped once, here.
        unsafe {
            if let Some(c) = self.http1.as_mut() {
                ManuallyDrop::drop(c);
            }
            ManuallyDrop::drop(&mut self.config)
        }
    }
}

impl TlsConfig {
    /// Builds a client configuration trusting the PEM (or DER) certificates in `ca`, for
    /// HTTP/2 and, with `http1`, for HTTP/1.1 too. mbedTLS draws its memory for it, and for
    /// every session started with it, from `pool`, which must outlive them. The CA
    /// certificates are parsed first, into the fresh pool: they take [`ca_pool_bytes`]`(ca)` of
    /// it, and the rest is for the sessions.
    pub fn new(ca: &[u8], pool: NonNull<Pool>, http1: bool) -> Result<Self, TlsError> {
        let _scope = mem::Scope::enter(pool.as_ptr());
        let ca_list = Arc::new(parse_ca(ca)?);
        let entropy = Arc::new(OsEntropy::new());
        let rng = Arc::new(CtrDrbg::new(entropy, None).map_err(|e| setup_error(e, TlsError::Protocol))?);
        // ChaCha20-Poly1305 first: without AES instructions (most ARM boards, and mbedTLS's
        // software AES here) it costs far less per record than AES-GCM, and a voice turn is
        // hundreds of small records. AES-GCM stays for servers without it. Zero-terminated.
        const SUITES: [i32; 7] = [0xCCA9, 0xCCA8, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0];
        let suites = Arc::new(SUITES.to_vec());
        let build = |protocol: &str| -> Result<Config, TlsError> {
            let mut config = Config::new(Endpoint::Client, Transport::Stream, Preset::Default);
            config.set_rng(rng.clone());
            config.set_min_version(Version::Tls1_2).map_err(|e| setup_error(e, TlsError::Protocol))?;
            config.set_authmode(AuthMode::Required);
            config.set_ca_list(ca_list.clone(), None);
            config.set_ciphersuites(suites.clone());
            let alpn = NullTerminatedStrList::new(&[protocol]).map_err(|e| setup_error(e, TlsError::Protocol))?;
            config.set_alpn_protocols(Arc::new(alpn)).map_err(|e| setup_error(e, TlsError::Protocol))?;
            Ok(config)
        };
        let config = ManuallyDrop::new(Arc::new(build("h2")?));
        let http1 = if http1 { Some(ManuallyDrop::new(Arc::new(build("http/1.1")?))) } else { None };
        Ok(TlsConfig { config, http1, pool })
    }

    /// The raw configuration for `alpn`, if this client has one.
    pub(super) fn raw(&self, alpn: Alpn) -> Option<*const mbedtls_sys::ssl_config> {
        let config: &Config = match alpn {
            Alpn::H2 => &self.config,
            Alpn::Http1 => self.http1.as_deref()?,
        };
        Some(config.into())
    }
}

/// Parses PEM (or DER) CA certificates, with mbedTLS's memory from the current scope.
fn parse_ca(ca: &[u8]) -> Result<mbedtls::alloc::List<Certificate>, TlsError> {
    let list = parse_ca_unchecked(ca)?;
    // mbedTLS skips a certificate of a bundle it could not parse and reports success for the
    // rest: when it skipped one for want of memory, that is a failure, not a smaller bundle.
    if mem::refused_since_scope() {
        return Err(TlsError::NoMemory);
    }
    Ok(list)
}

fn parse_ca_unchecked(ca: &[u8]) -> Result<mbedtls::alloc::List<Certificate>, TlsError> {
    let is_pem = ca.windows(11).any(|w| w == b"-----BEGIN ");
    if is_pem {
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
    .map_err(|e| setup_error(e, TlsError::BadCaBundle))
}

/// How much of a fresh pool the CA certificates in `ca` take once parsed, measured by parsing
/// them into a scratch pool on the heap (freed before returning): a bundle of any size gets
/// exactly the memory it needs, and the budget for the sessions stays what was configured.
pub fn ca_pool_bytes(ca: &[u8]) -> Result<usize, TlsError> {
    // Parsed certificates take about 2-2.3 times their PEM size: start there, grow if needed.
    let mut scratch_bytes = ca.len().saturating_mul(5) / 2 + 4096;
    loop {
        let scratch = PoolBox::new(Pool::new(scratch_bytes));
        let _scope = mem::Scope::enter(scratch.ptr().as_ptr());
        match parse_ca(ca) {
            Ok(list) => {
                let bytes = scratch.stats().high_water;
                drop(list);
                return Ok(bytes);
            }
            // Out of scratch (not an injected failure): a larger one.
            Err(TlsError::NoMemory) if scratch.stats().failures > 0 && scratch_bytes < ca.len().saturating_mul(16) => {
                scratch_bytes *= 2;
            }
            Err(e) => return Err(e),
        }
    }
}

/// What went wrong below TLS, kept outside the I/O adapter: the mbedtls crate drops the adapter
/// (and the connection) as soon as a handshake step fails, before the error is described.
#[derive(Default)]
pub(super) struct NetStatus {
    pub(super) last_error: std::cell::Cell<Option<IoError>>,
    /// The connection's [`Connection::failure_report`] at that moment.
    pub(super) report: std::cell::Cell<Option<String>>,
    /// The last call would block on sending.
    pub(super) want_write: std::cell::Cell<bool>,
}

/// Adapts a [`Connection`] to mbedTLS's I/O callbacks.
struct NetIo {
    conn: Box<dyn Connection>,
    /// Owned by the stream, which outlives the context holding this adapter.
    status: *const NetStatus,
}

impl NetIo {
    fn failed(&mut self, e: IoError) {
        // SAFETY: `status` is boxed in the TlsStream, which drops the context (and this) first.
        let status = unsafe { &*self.status };
        status.last_error.set(Some(e));
        status.report.set(self.conn.failure_report());
    }
}

impl Io for NetIo {
    fn recv(&mut self, buf: &mut [u8]) -> mbedtls::Result<usize> {
        match self.conn.recv(buf) {
            Ok(n) => Ok(n),
            Err(IoError::WouldBlock) => Err(codes::SslWantRead.into()),
            Err(e) => {
                self.failed(e);
                Err(codes::NetRecvFailed.into())
            }
        }
    }

    fn send(&mut self, buf: &[u8]) -> mbedtls::Result<usize> {
        match self.conn.send(buf) {
            Ok(n) => Ok(n),
            Err(IoError::WouldBlock) => Err(codes::SslWantWrite.into()),
            Err(e) => {
                self.failed(e);
                Err(codes::NetSendFailed.into())
            }
        }
    }
}

/// The address an IP-literal endpoint's certificate must name, in network byte order.
pub(super) struct ExpectedIp {
    octets: [u8; 16],
    len: usize,
}

impl ExpectedIp {
    pub(super) fn new(ip: IpAddr) -> Self {
        let mut octets = [0u8; 16];
        let len = match ip {
            IpAddr::V4(a) => {
                octets[..4].copy_from_slice(&a.octets());
                4
            }
            IpAddr::V6(a) => {
                octets = a.octets();
                16
            }
        };
        ExpectedIp { octets, len }
    }
}

/// mbedTLS verify callback for IP-literal endpoints: the leaf (depth 0) must carry an iPAddress
/// subjectAltName (`[7]` primitive, the raw 4 or 16 octets) equal to the endpoint's address.
/// mbedTLS 2.28 keeps every SAN entry in `subject_alt_names` with its tag byte and content (it
/// only interprets dNSName and otherName). A DNS-name SAN spelling the address, or the CN, never
/// counts. Otherwise the CN-mismatch flag is set, so the handshake fails as "host name mismatch".
/// Reads plain C data only: cannot panic.
pub(super) unsafe extern "C" fn verify_ip(p: *mut c_void, crt: *mut mbedtls_sys::x509_crt, depth: c_int, flags: *mut u32) -> c_int {
    if depth != 0 {
        return 0;
    }
    if p.is_null() || crt.is_null() || flags.is_null() {
        return mbedtls_sys::ERR_X509_BAD_INPUT_DATA;
    }
    let want = &*(p as *const ExpectedIp);
    const IP_SAN_TAG: c_int = mbedtls_sys::ASN1_CONTEXT_SPECIFIC | mbedtls_sys::X509_SAN_IP_ADDRESS;
    let mut matched = false;
    if (*crt).ext_types & mbedtls_sys::OID_X509_EXT_SUBJECT_ALT_NAME != 0 {
        let mut cur: *const mbedtls_sys::x509_sequence = &(*crt).subject_alt_names;
        while !cur.is_null() {
            let buf = &(*cur).buf;
            if buf.tag == IP_SAN_TAG
                && buf.len == want.len
                && !buf.p.is_null()
                && std::slice::from_raw_parts(buf.p, buf.len) == &want.octets[..want.len]
            {
                matched = true;
                break;
            }
            cur = (*cur).next;
        }
    }
    if !matched {
        *flags |= mbedtls_sys::X509_BADCERT_CN_MISMATCH as u32;
    }
    0
}

/// One TLS session over one byte stream, non-blocking.
pub struct TlsStream {
    ctx: ManuallyDrop<Context<NetIo>>,
    pool: NonNull<Pool>,
    status: Box<NetStatus>,
    established: bool,
    /// For an IP-literal endpoint: what [`verify_ip`] checks (mbedTLS holds a pointer to it).
    _expected_ip: Option<Box<ExpectedIp>>,
}

impl Drop for TlsStream {
    fn drop(&mut self) {
        let _scope = mem::Scope::enter(self.pool.as_ptr());
        // SAFETY: dropped once, here.
        unsafe { ManuallyDrop::drop(&mut self.ctx) }
    }
}

/// Whether mbedTLS failed for want of memory: it says so at whatever layer noticed, or the hooks
/// refused an allocation during the call (mbedTLS reports some of those as malformed input).
pub(super) fn out_of_memory(e: &mbedtls::Error) -> bool {
    use codes::*;
    matches!(
        e.high_level(),
        Some(CipherAllocFailed | DhmAllocFailed | EcpAllocFailed | MdAllocFailed | PemAllocFailed | PkAllocFailed | SslAllocFailed | X509AllocFailed)
    ) || matches!(e.low_level(), Some(Asn1AllocFailed | MpiAllocFailed))
        || mem::refused_since_scope()
}

/// A set-up failure: out of memory, or what `other` makes of it.
fn setup_error(e: mbedtls::Error, other: fn(String) -> TlsError) -> TlsError {
    if out_of_memory(&e) {
        TlsError::NoMemory
    } else {
        other(e.to_string())
    }
}

fn is_want(e: &mbedtls::Error) -> bool {
    matches!(e.high_level(), Some(codes::SslWantRead | codes::SslWantWrite))
}

impl TlsStream {
    /// Starts the handshake with `host` (used for SNI and certificate host-name verification; an
    /// IP address is sent without SNI, RFC 6066 §3, and verified by [`verify_ip`]).
    pub fn start(config: &TlsConfig, conn: Box<dyn Connection>, host: &str) -> Result<Self, TlsError> {
        let _scope = mem::Scope::enter(config.pool.as_ptr());
        let mut ctx = ManuallyDrop::new(Context::new(Arc::clone(&config.config)));
        // Context::new ignores mbedtls_ssl_setup's result; when allocating the record buffers
        // failed they are NULL and the first handshake step would crash. Refuse that session.
        let raw: *mut mbedtls_sys::ssl_context = (&mut *ctx).into();
        // SAFETY: `raw` points at the context just initialised; only two pointers are read.
        let unusable = unsafe { (*raw).in_buf.is_null() || (*raw).out_buf.is_null() };
        // An IPv6 literal may carry a zone (`fe80::1%eth0`, RFC 6874): the zone picks the link
        // for connecting, the address alone is what the certificate names.
        let address = host.split_once('%').map_or(host, |(a, _)| a);
        let expected_ip = address.parse::<IpAddr>().ok().map(|ip| Box::new(ExpectedIp::new(ip)));
        let mut stream = TlsStream { ctx, pool: config.pool, status: Box::default(), established: false, _expected_ip: None };
        if unusable {
            return Err(TlsError::NoMemory);
        }
        let name = match expected_ip {
            Some(want) => {
                let p = &*want as *const ExpectedIp as *mut c_void;
                // The context moved into `stream`: point at it there.
                let raw: *mut mbedtls_sys::ssl_context = (&mut *stream.ctx).into();
                // SAFETY: `raw` is the live context; `want` is kept in the stream, at a fixed
                // (boxed) address, as long as the context that points at it. Setting the host
                // name to NULL is mbedTLS's documented way to skip its name check (ours replaces
                // it); without that call 2.28.10 refuses to verify.
                unsafe {
                    mbedtls_sys::ssl_set_verify(raw, Some(verify_ip), p);
                    if mbedtls_sys::ssl_set_hostname(raw, std::ptr::null()) != 0 {
                        return Err(TlsError::Protocol("cannot clear the TLS host name".into()));
                    }
                }
                stream._expected_ip = Some(want);
                None
            }
            None => Some(host),
        };
        let io = NetIo { conn, status: &*stream.status };
        match stream.ctx.establish(io, name) {
            Ok(()) => {
                stream.finish_handshake()?;
            }
            Err(e) if is_want(&e) => stream.status.want_write.set(e.high_level() == Some(codes::SslWantWrite)),
            Err(e) => return Err(stream.describe(e)),
        }
        Ok(stream)
    }

    /// Advances the handshake; `Ok(true)` once the session is established and ALPN chose h2.
    pub fn handshake(&mut self) -> Result<bool, TlsError> {
        if self.established {
            return Ok(true);
        }
        let _scope = mem::Scope::enter(self.pool.as_ptr());
        match self.ctx.handshake() {
            Ok(()) => {
                self.finish_handshake()?;
                Ok(true)
            }
            Err(e) if is_want(&e) => {
                self.status.want_write.set(e.high_level() == Some(codes::SslWantWrite));
                Ok(false)
            }
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
        let flags = self.ctx.verify_result().err().unwrap_or(VerifyError::empty());
        describe(e, flags, self._expected_ip.is_some(), &self.status)
    }

    /// Encrypts and sends some of `buf`; with `WouldBlock`, call again later with the same bytes.
    pub fn send(&mut self, buf: &[u8]) -> Result<usize, TlsError> {
        let _scope = mem::Scope::enter(self.pool.as_ptr());
        match self.ctx.send(buf) {
            Ok(n) => Ok(n),
            Err(e) if is_want(&e) => Err(TlsError::Io(IoError::WouldBlock)),
            Err(e) => Err(self.describe(e)),
        }
    }

    /// Receives decrypted bytes; `Err(Io(Closed))` at the end of the session.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, TlsError> {
        let _scope = mem::Scope::enter(self.pool.as_ptr());
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
        self.ctx.io().and_then(|io| io.conn.fd())
    }

    /// Whether the last call stopped because the socket could not take more bytes (then wait
    /// for it to become writable; during the handshake, also for the connect to complete).
    pub fn wants_write(&self) -> bool {
        self.status.want_write.get()
    }

    /// While connecting: when to call again even if the socket stays quiet.
    pub fn wake_in_ms(&self) -> Option<u64> {
        self.ctx.io().and_then(|io| io.conn.wake_in_ms())
    }
}

/// Turns an mbedTLS error into one that names the actual problem: the certificate's faults
/// (`flags`, from the verification; `ip`: the endpoint is an address), memory, or the byte
/// stream's failure kept in `status`.
pub(super) fn describe(e: mbedtls::Error, flags: VerifyError, ip: bool, status: &NetStatus) -> TlsError {
    if e.high_level() == Some(codes::X509CertVerifyFailed) {
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
                let what = if flag == VerifyError::CERT_CN_MISMATCH && ip {
                    "host name mismatch (no iPAddress subjectAltName for this address)"
                } else {
                    what
                };
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
    if out_of_memory(&e) {
        return TlsError::NoMemory;
    }
    if let Some(io) = status.last_error.get() {
        return match status.report.take() {
            Some(report) => TlsError::Connect(report),
            None => TlsError::Io(io),
        };
    }
    match e.high_level() {
        Some(codes::SslPeerCloseNotify | codes::SslConnEof) => TlsError::Io(IoError::Closed),
        _ => TlsError::Protocol(e.to_string()),
    }
}

/// mbedTLS's memory. mbedTLS is built with `MBEDTLS_PLATFORM_MEMORY`
/// (third_party/mbedtls-sys-auto), so every allocation it makes goes through one pair of
/// process-wide hooks. They draw from the [`Pool`] of the client whose call is running on this
/// thread ([`Scope`]): each TLS configuration and session enters its client's scope around every
/// call into mbedTLS, its drop included. Outside any scope allocations come from the C heap. A
/// free goes to the live pool that holds the block whatever the current scope (see
/// [`free_to_owner`](crate::transport::pool::free_to_owner)), and to the C heap only when no pool
/// holds it.
pub mod mem {
    use std::cell::Cell;
    use std::os::raw::{c_int, c_void};
    use std::panic::AssertUnwindSafe;
    use std::ptr::NonNull;
    use std::sync::Once;

    use crate::transport::pool::{free_to_owner, with_pool, Counters, Pool};

    static COUNTERS: Counters = Counters::new();

    thread_local! {
        static CURRENT: Cell<*mut Pool> = const { Cell::new(std::ptr::null_mut()) };
        /// Allocations refused on this thread (pool full or failure injected).
        static REFUSED: Cell<u64> = const { Cell::new(0) };
        /// `REFUSED` when the outermost scope was entered.
        static REFUSED_AT_ENTRY: Cell<u64> = const { Cell::new(0) };
    }

    /// Whether an allocation was refused since the outermost scope on this thread was entered:
    /// whatever mbedTLS then reports, the cause is memory.
    pub fn refused_since_scope() -> bool {
        REFUSED.with(|r| r.get()) != REFUSED_AT_ENTRY.with(|r| r.get())
    }

    fn refuse() -> *mut c_void {
        let _ = REFUSED.try_with(|r| r.set(r.get() + 1));
        std::ptr::null_mut()
    }

    extern "C" {
        fn mbedtls_platform_set_calloc_free(
            calloc: unsafe extern "C" fn(usize, usize) -> *mut c_void,
            free: unsafe extern "C" fn(*mut c_void),
        ) -> c_int;
    }

    /// Bytes mbedTLS holds in client pools now (all clients), the high-water mark, and its
    /// allocation calls served from pools.
    pub fn stats() -> (usize, usize, usize) {
        COUNTERS.stats()
    }

    /// Resets the high-water mark to the current level.
    pub fn reset_peak() {
        COUNTERS.reset_peak()
    }

    /// Failure injection for tests: the allocation call whose number (see [`stats`]) is `call`
    /// fails as if the pool were exhausted. `None` turns it off.
    pub fn fail_allocation_at(call: Option<usize>) {
        COUNTERS.fail_allocation_at(call)
    }

    /// While alive, mbedTLS allocations on this thread come from one pool.
    pub struct Scope {
        prev: *mut Pool,
    }

    impl Scope {
        /// Enters `pool`'s scope. The pool must outlive every mbedTLS object allocated in it.
        pub fn enter(pool: *mut Pool) -> Scope {
            static INSTALL: Once = Once::new();
            // SAFETY: sets two function pointers; done once, before any allocation is routed.
            INSTALL.call_once(|| unsafe {
                mbedtls_platform_set_calloc_free(calloc, free);
            });
            let prev = CURRENT.with(|c| c.replace(pool));
            if prev.is_null() {
                REFUSED_AT_ENTRY.with(|r| r.set(REFUSED.with(|r| r.get())));
            }
            Scope { prev }
        }
    }

    impl Drop for Scope {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.prev));
        }
    }

    /// The pool of the scope current on this thread (null outside any, or while the thread's
    /// locals are being torn down).
    fn current() -> *mut Pool {
        CURRENT.try_with(|c| c.get()).unwrap_or(std::ptr::null_mut())
    }

    // The hooks are called from C: no panic may unwind out of them. Every path that could
    // panic (a corrupted pool's bounds checks) runs under `catch_unwind`; a caught panic refuses
    // the allocation, or leaks the block being freed.

    unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
        let Some(pool) = NonNull::new(current()) else { return libc::calloc(n, size) };
        let Some(total) = n.checked_mul(size) else { return refuse() };
        // SAFETY: the scope's pool is alive (Scope::enter's contract).
        let got = std::panic::catch_unwind(AssertUnwindSafe(|| unsafe { with_pool(pool, |p| COUNTERS.alloc(p, total)) }));
        match got {
            Ok(Some(p)) => {
                std::ptr::write_bytes(p.as_ptr(), 0, total);
                p.as_ptr() as *mut c_void
            }
            _ => refuse(),
        }
    }

    unsafe extern "C" fn free(p: *mut c_void) {
        if p.is_null() {
            return;
        }
        // Whichever client's scope is current (or none), a block from a live pool goes back to
        // that pool; only what no pool holds was libc's.
        let pooled = std::panic::catch_unwind(|| free_to_owner(current(), p as *const u8, &COUNTERS)).unwrap_or(true);
        if !pooled {
            libc::free(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mem::{self, Scope};
    use crate::transport::pool::{Pool, PoolBox};

    extern "C" {
        fn mbedtls_calloc(n: usize, size: usize) -> *mut std::os::raw::c_void;
        fn mbedtls_free(p: *mut std::os::raw::c_void);
    }

    #[test]
    fn a_block_freed_outside_its_scope_goes_back_to_its_pool() {
        let a = PoolBox::new(Pool::new(4096));
        let b = PoolBox::new(Pool::new(4096));
        let (p, q) = {
            let _scope = Scope::enter(a.ptr().as_ptr());
            unsafe { (mbedtls_calloc(1, 100), mbedtls_calloc(1, 200)) }
        };
        assert!(!p.is_null() && !q.is_null());
        assert_eq!(a.stats().live, 112 + 208);
        // No scope at all, then another client's: both still belong to `a`, not to libc.
        unsafe { mbedtls_free(p) };
        {
            let _scope = Scope::enter(b.ptr().as_ptr());
            unsafe { mbedtls_free(q) };
        }
        assert_eq!(a.stats().live, 0, "returned to their pool");
        assert_eq!(b.stats().live, 0);
        // What libc allocated (outside any scope) still goes back to libc.
        let r = unsafe { mbedtls_calloc(3, 10) };
        assert!(!r.is_null() && a.stats().live == 0, "from libc, not the pool");
        unsafe { mbedtls_free(r) };
        let _ = mem::stats();
    }

    #[test]
    fn a_panic_in_the_allocator_refuses_the_allocation_instead_of_unwinding_into_c() {
        let a = PoolBox::new(Pool::new(4096));
        let _scope = Scope::enter(a.ptr().as_ptr());
        let p = unsafe { mbedtls_calloc(1, 16) } as *mut u8;
        assert!(!p.is_null());
        // Corrupt the free block's header behind it (as a stray write in C would): too small,
        // and its successor far outside the arena, which the pool's bounds check turns into a
        // panic.
        unsafe { (p.add(16) as *mut [u32; 2]).write([1, 1_000_000]) };
        let q = unsafe { mbedtls_calloc(1, 64) };
        assert!(q.is_null(), "refused");
        assert!(mem::refused_since_scope());
    }
}
