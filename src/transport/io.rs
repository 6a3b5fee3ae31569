//! Byte streams to the AVS endpoint: built-in non-blocking POSIX sockets, or whatever the host
//! supplies (its own TCP stack on an RTOS) through the [`Network`] trait.

use std::ffi::CString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::OnceLock;

/// Why a byte stream could not move bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoError {
    /// Nothing can move now; try again after the next poll.
    WouldBlock,
    /// The peer closed the stream.
    Closed,
    /// The stream failed (the OS or host error code, when there is one).
    Failed(i32),
}

/// One open (or opening) byte stream. Dropping it closes it.
pub trait Connection {
    /// Sends some of `buf`; `Ok(n)` with `n > 0`, or an error.
    fn send(&mut self, buf: &[u8]) -> Result<usize, IoError>;
    /// Receives into `buf`; `Ok(n)` with `n > 0`, `Err(Closed)` at end of stream.
    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, IoError>;
    /// The OS descriptor to wait on, if there is one. It may change while the stream is still
    /// connecting (the next address is tried on a new socket).
    fn fd(&self) -> Option<i32> {
        None
    }
    /// While connecting: milliseconds until the stream must be called again even if its
    /// descriptor stays quiet (an address's share of the connect time running out).
    fn wake_in_ms(&self) -> Option<u64> {
        None
    }
    /// After a failure to connect: what was tried and why, for the log.
    fn failure_report(&self) -> Option<String> {
        None
    }
    /// Closes the stream and starts connecting again to the same place, reusing what it can
    /// (no name resolution, no allocation): for short exchanges repeated over hours, such as
    /// token refreshes. False when this stream cannot (the caller then opens a new one).
    fn restart(&mut self) -> bool {
        false
    }
}

/// Opens byte streams.
pub trait Network {
    /// Starts connecting to `host:port`. May return before the stream is connected: sends then
    /// report `WouldBlock` until it is.
    fn connect(&mut self, host: &str, port: u16) -> Result<Box<dyn Connection>, IoError>;
    /// After `connect` failed: why, in words (e.g. the name did not resolve), when the
    /// [`IoError`] does not say it all.
    fn last_failure(&mut self) -> Option<String> {
        None
    }
}

/// Non-blocking POSIX TCP sockets, with DNS through the system resolver. Every address the name
/// resolves to is tried in turn, see [`PosixNetwork::new`].
pub struct PosixNetwork {
    connect_timeout_ms: u64,
    last_failure: Option<String>,
}

impl Default for PosixNetwork {
    fn default() -> Self {
        Self::new(15_000)
    }
}

impl PosixNetwork {
    /// A network whose connections try each resolved address in order. An address that fails
    /// (at once, or later as the non-blocking connect completes: refused, unreachable) gives way
    /// to the next one without the TLS layer seeing an error. An address that neither connects
    /// nor fails (a black hole) gives way once its share of `connect_timeout_ms` has passed:
    /// address `i` of `n` must have connected `(i + 1) * connect_timeout_ms / n` after the
    /// start, so time an early failure leaves over goes to the next one; the last address has
    /// no limit of its own (the client's connect timeout applies). Only when every address has
    /// failed is the error reported, naming each address and why.
    pub fn new(connect_timeout_ms: u32) -> Self {
        PosixNetwork { connect_timeout_ms: u64::from(connect_timeout_ms.max(1)), last_failure: None }
    }
}

/// At most this many resolved addresses are tried.
const MAX_ADDRESSES: usize = 16;

enum Phase {
    /// Waiting for the non-blocking connect to `addrs[at]`.
    Connecting,
    Connected,
    /// Every address failed; the last errno.
    Failed(i32),
}

struct PosixConnection {
    /// -1 once every address failed.
    fd: i32,
    phase: Phase,
    addrs: Vec<SocketAddr>,
    at: usize,
    started: std::time::Instant,
    connect_timeout_ms: u64,
    /// "address: why" for each address given up on.
    failures: String,
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

fn map_errno(errno: i32) -> IoError {
    if errno == libc::EAGAIN || errno == libc::EWOULDBLOCK || errno == libc::EINPROGRESS || errno == libc::EINTR {
        IoError::WouldBlock
    } else if errno == libc::ECONNRESET || errno == libc::EPIPE {
        IoError::Closed
    } else {
        IoError::Failed(errno)
    }
}

fn sockaddr_of(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is large enough and suitably aligned for sockaddr_in.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: all-zero is a valid sockaddr_in6.
            let mut sin6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// A resolver tests put in front of the system's (see [`set_test_resolver`]).
type TestResolver = fn(&str, u16) -> Option<Vec<SocketAddr>>;
static TEST_RESOLVER: OnceLock<TestResolver> = OnceLock::new();

/// Test seam: `f` answers name lookups before the system resolver does, for names of the test's
/// own (under `avs.test`, which DNS never resolves); `None` from it means "ask the system". The
/// first one set in a process stays.
#[doc(hidden)]
pub fn set_test_resolver(f: TestResolver) {
    let _ = TEST_RESOLVER.set(f);
}

fn resolve(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    if let Some(addrs) = TEST_RESOLVER.get().and_then(|f| f(host, port)) {
        return Ok(addrs);
    }
    Ok((host, port).to_socket_addrs()?.collect())
}

/// Starts a non-blocking connect to `addr`: the socket, and whether it is connected already.
fn start_connect(addr: &SocketAddr) -> Result<(i32, bool), i32> {
    let family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: plain socket syscalls on a descriptor this function owns (closed on failure).
    unsafe {
        let fd = libc::socket(family, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(last_errno());
        }
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            &one as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let (storage, len) = sockaddr_of(addr);
        if libc::connect(fd, &storage as *const _ as *const libc::sockaddr, len) == 0 {
            return Ok((fd, true));
        }
        let errno = last_errno();
        if errno == libc::EINPROGRESS || errno == libc::EINTR {
            return Ok((fd, false));
        }
        libc::close(fd);
        Err(errno)
    }
}

impl Network for PosixNetwork {
    fn connect(&mut self, host: &str, port: u16) -> Result<Box<dyn Connection>, IoError> {
        self.last_failure = None;
        // Name resolution blocks in the system resolver; connecting itself does not.
        let mut addrs = match resolve(host, port) {
            Ok(addrs) if !addrs.is_empty() => addrs,
            Ok(_) => {
                self.last_failure = Some(format!("cannot resolve {host}: no addresses"));
                return Err(IoError::Failed(libc::EHOSTUNREACH));
            }
            Err(e) => {
                self.last_failure = Some(format!("cannot resolve {host}: {e}"));
                return Err(IoError::Failed(libc::EHOSTUNREACH));
            }
        };
        addrs.truncate(MAX_ADDRESSES);
        let mut conn = PosixConnection {
            fd: -1,
            phase: Phase::Connecting,
            addrs,
            at: 0,
            started: std::time::Instant::now(),
            connect_timeout_ms: self.connect_timeout_ms,
            failures: String::new(),
        };
        conn.try_from(0);
        if let Phase::Failed(errno) = conn.phase {
            self.last_failure = conn.failure_report();
            return Err(IoError::Failed(errno));
        }
        Ok(Box::new(conn))
    }

    fn last_failure(&mut self) -> Option<String> {
        self.last_failure.take()
    }
}

impl PosixConnection {
    /// A failed non-blocking connect shows up as SO_ERROR; report it instead of a vague EPIPE.
    fn pending_error(&self) -> Option<i32> {
        let mut err: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `err`.
        let rc = unsafe {
            libc::getsockopt(self.fd, libc::SOL_SOCKET, libc::SO_ERROR, &mut err as *mut _ as *mut libc::c_void, &mut len)
        };
        (rc == 0 && err != 0).then_some(err)
    }

    fn note_failure(&mut self, what: &str) {
        if !self.failures.is_empty() {
            self.failures.push_str("; ");
        }
        self.failures.push_str(&format!("{}: {what}", self.addrs[self.at]));
    }

    fn close_fd(&mut self) {
        if self.fd >= 0 {
            // SAFETY: the descriptor is owned by this value and closed once (then forgotten).
            unsafe { libc::close(self.fd) };
            self.fd = -1;
        }
    }

    /// Starts connecting to the addresses from `first` on, until one is connecting or connected;
    /// `Phase::Failed` when none is left.
    fn try_from(&mut self, first: usize) {
        self.close_fd();
        let mut last = libc::ECONNREFUSED;
        for at in first..self.addrs.len() {
            self.at = at;
            match start_connect(&self.addrs[at]) {
                Ok((fd, connected)) => {
                    self.fd = fd;
                    self.phase = if connected { Phase::Connected } else { Phase::Connecting };
                    return;
                }
                Err(errno) => {
                    self.note_failure(&describe_errno(errno));
                    last = errno;
                }
            }
        }
        self.phase = Phase::Failed(last);
    }

    /// When the current address must have connected, if another one is waiting behind it.
    fn deadline_ms(&self) -> Option<u64> {
        let n = self.addrs.len() as u64;
        let i = self.at as u64;
        (i + 1 < n).then(|| (i + 1) * self.connect_timeout_ms / n)
    }

    /// Moves the connect along: `Ok` once connected, `WouldBlock` while an address is still
    /// being tried, `Failed` once every address has failed.
    fn progress(&mut self) -> Result<(), IoError> {
        loop {
            match self.phase {
                Phase::Connected => return Ok(()),
                Phase::Failed(errno) => return Err(IoError::Failed(errno)),
                Phase::Connecting => {}
            }
            let mut pfd = libc::pollfd { fd: self.fd, events: libc::POLLOUT, revents: 0 };
            // SAFETY: one valid pollfd; a zero timeout never blocks.
            let ready = unsafe { libc::poll(&mut pfd, 1, 0) } > 0;
            if ready {
                match self.pending_error() {
                    None if pfd.revents & libc::POLLOUT != 0 && pfd.revents & (libc::POLLERR | libc::POLLHUP) == 0 => {
                        self.phase = Phase::Connected;
                        return Ok(());
                    }
                    err => {
                        let errno = err.unwrap_or(libc::ECONNABORTED);
                        self.note_failure(&describe_errno(errno));
                        self.try_from(self.at + 1);
                        continue;
                    }
                }
            }
            match self.deadline_ms() {
                Some(ms) if self.started.elapsed().as_millis() as u64 >= ms => {
                    self.note_failure(&format!("no answer within {} ms", self.started.elapsed().as_millis()));
                    self.try_from(self.at + 1);
                }
                _ => return Err(IoError::WouldBlock),
            }
        }
    }

    /// Maps a failed send/recv; only a real failure pays for the SO_ERROR lookup (EAGAIN is the
    /// common case on a non-blocking socket).
    fn error_from(&self, errno: i32) -> Result<usize, IoError> {
        match map_errno(errno) {
            IoError::WouldBlock => Err(IoError::WouldBlock),
            other => Err(self.pending_error().map(IoError::Failed).unwrap_or(other)),
        }
    }
}

impl Connection for PosixConnection {
    fn send(&mut self, buf: &[u8]) -> Result<usize, IoError> {
        self.progress()?;
        // SAFETY: buf is valid for buf.len() bytes; MSG_NOSIGNAL keeps a dead peer from raising SIGPIPE.
        let n = unsafe { libc::send(self.fd, buf.as_ptr() as *const libc::c_void, buf.len(), libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(n as usize);
        }
        self.error_from(last_errno())
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        self.progress()?;
        // SAFETY: buf is valid for writes of buf.len() bytes.
        let n = unsafe { libc::recv(self.fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
        if n > 0 {
            return Ok(n as usize);
        }
        if n == 0 {
            return Err(IoError::Closed);
        }
        self.error_from(last_errno())
    }

    fn fd(&self) -> Option<i32> {
        (self.fd >= 0).then_some(self.fd)
    }

    fn wake_in_ms(&self) -> Option<u64> {
        match self.phase {
            Phase::Connecting => self.deadline_ms().map(|ms| ms.saturating_sub(self.started.elapsed().as_millis() as u64)),
            _ => None,
        }
    }

    fn failure_report(&self) -> Option<String> {
        matches!(self.phase, Phase::Failed(_)).then(|| self.failures.clone())
    }

    /// The addresses resolved last time, tried again in order. A stream that failed to
    /// connect is not restarted: the name is resolved afresh (addresses change).
    fn restart(&mut self) -> bool {
        if matches!(self.phase, Phase::Failed(_)) {
            return false;
        }
        self.failures.clear();
        self.started = std::time::Instant::now();
        self.try_from(0);
        !matches!(self.phase, Phase::Failed(_))
    }
}

impl Drop for PosixConnection {
    fn drop(&mut self) {
        self.close_fd();
    }
}

/// Text for an errno, for log lines and error messages.
pub fn describe_errno(errno: i32) -> String {
    // SAFETY: strerror returns a valid NUL-terminated string for any value.
    unsafe { std::ffi::CStr::from_ptr(libc::strerror(errno)) }.to_string_lossy().into_owned()
}

/// Host names handed to C callbacks need a terminating NUL.
pub fn c_host(host: &str) -> Option<CString> {
    CString::new(host).ok()
}
