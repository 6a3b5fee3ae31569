//! Byte streams to the AVS endpoint: built-in non-blocking POSIX sockets, or whatever the host
//! supplies (its own TCP stack on an RTOS) through the [`Network`] trait.

use std::ffi::CString;
use std::net::{SocketAddr, ToSocketAddrs};

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
    /// The OS descriptor to wait on, if there is one.
    fn fd(&self) -> Option<i32> {
        None
    }
}

/// Opens byte streams.
pub trait Network {
    /// Starts connecting to `host:port`. May return before the stream is connected: sends then
    /// report `WouldBlock` until it is.
    fn connect(&mut self, host: &str, port: u16) -> Result<Box<dyn Connection>, IoError>;
}

/// Non-blocking POSIX TCP sockets, with DNS through the system resolver.
#[derive(Default)]
pub struct PosixNetwork;

struct PosixConnection {
    fd: i32,
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

impl Network for PosixNetwork {
    fn connect(&mut self, host: &str, port: u16) -> Result<Box<dyn Connection>, IoError> {
        // Name resolution blocks in the system resolver; connecting itself does not.
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|_| IoError::Failed(libc::EHOSTUNREACH))?
            .next()
            .ok_or(IoError::Failed(libc::EHOSTUNREACH))?;
        let family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
        // SAFETY: plain socket syscalls on a descriptor this function owns.
        unsafe {
            let fd = libc::socket(family, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                return Err(IoError::Failed(last_errno()));
            }
            let conn = PosixConnection { fd };
            let one: libc::c_int = 1;
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                &one as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
            let (storage, len) = sockaddr_of(&addr);
            if libc::connect(fd, &storage as *const _ as *const libc::sockaddr, len) != 0 {
                let errno = last_errno();
                if errno != libc::EINPROGRESS {
                    return Err(IoError::Failed(errno));
                }
            }
            Ok(Box::new(conn))
        }
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
}

impl PosixConnection {
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
        // SAFETY: buf is valid for buf.len() bytes; MSG_NOSIGNAL keeps a dead peer from raising SIGPIPE.
        let n = unsafe { libc::send(self.fd, buf.as_ptr() as *const libc::c_void, buf.len(), libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(n as usize);
        }
        self.error_from(last_errno())
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
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
        Some(self.fd)
    }
}

impl Drop for PosixConnection {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed exactly once.
        unsafe { libc::close(self.fd) };
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
