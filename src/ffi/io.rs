//! Host-supplied network I/O ([`AvsIo`]) as a [`Network`].

use crate::ffi::types::{AvsIo, AVS_IO_WOULD_BLOCK};
use crate::transport::io::{c_host, Connection, IoError, Network};

/// Connections opened through the host's callbacks.
pub struct HostNetwork {
    io: AvsIo,
}

impl HostNetwork {
    /// Wraps the host's callbacks; all four must be set.
    pub fn new(io: AvsIo) -> Option<Self> {
        (io.connect.is_some() && io.send.is_some() && io.recv.is_some() && io.close.is_some()).then_some(HostNetwork { io })
    }
}

struct HostConnection {
    io: AvsIo,
    /// -1 once closed by a failed restart.
    handle: isize,
    /// Where it connected, for `restart`.
    host: std::ffi::CString,
    port: u16,
}

impl Network for HostNetwork {
    fn connect(&mut self, host: &str, port: u16) -> Result<Box<dyn Connection>, IoError> {
        let host = c_host(host).ok_or(IoError::Failed(libc::EINVAL))?;
        let connect = self.io.connect.ok_or(IoError::Failed(libc::EINVAL))?;
        // SAFETY: the host promised a valid function; the string lives across the call.
        let handle = unsafe { connect(self.io.user_data, host.as_ptr(), port) };
        if handle < 0 {
            return Err(IoError::Failed(libc::ECONNREFUSED));
        }
        Ok(Box::new(HostConnection { io: self.io, handle, host, port }))
    }
}

impl HostConnection {
    fn close(&mut self) {
        if self.handle < 0 {
            return;
        }
        if let Some(close) = self.io.close {
            // SAFETY: the handle came from the host's connect and is closed once.
            unsafe { close(self.io.user_data, self.handle) };
        }
        self.handle = -1;
    }
}

fn map(n: isize) -> Result<usize, IoError> {
    match n {
        n if n > 0 => Ok(n as usize),
        0 => Err(IoError::Closed),
        AVS_IO_WOULD_BLOCK => Err(IoError::WouldBlock),
        _ => Err(IoError::Failed(libc::EIO)),
    }
}

impl Connection for HostConnection {
    fn send(&mut self, buf: &[u8]) -> Result<usize, IoError> {
        if self.handle < 0 {
            return Err(IoError::Failed(libc::EBADF));
        }
        let send = self.io.send.ok_or(IoError::Failed(libc::EINVAL))?;
        // SAFETY: buf is valid for the call.
        let n = unsafe { send(self.io.user_data, self.handle, buf.as_ptr(), buf.len()) };
        // A host claiming to have sent more than it was given would corrupt the stream.
        if n > buf.len() as isize {
            return Err(IoError::Failed(libc::EIO));
        }
        if n == 0 {
            return Err(IoError::WouldBlock);
        }
        map(n)
    }

    fn restart(&mut self) -> bool {
        self.close();
        let Some(connect) = self.io.connect else { return false };
        // SAFETY: as in `connect`; the string is kept in this value.
        let handle = unsafe { connect(self.io.user_data, self.host.as_ptr(), self.port) };
        self.handle = handle;
        handle >= 0
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        if self.handle < 0 {
            return Err(IoError::Failed(libc::EBADF));
        }
        let recv = self.io.recv.ok_or(IoError::Failed(libc::EINVAL))?;
        // SAFETY: buf is valid for writes for the call.
        let n = unsafe { recv(self.io.user_data, self.handle, buf.as_mut_ptr(), buf.len()) };
        if n > buf.len() as isize {
            return Err(IoError::Failed(libc::EIO));
        }
        map(n)
    }
}

impl Drop for HostConnection {
    fn drop(&mut self) {
        self.close();
    }
}
