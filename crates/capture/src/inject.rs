//! Putting frames onto an interface (`wiresift replay`).
//!
//! A Linux packet socket (`AF_PACKET`, `SOCK_RAW`) bound to the interface with protocol 0: it
//! sends whole link-layer frames exactly as given and receives nothing, so unlike a libpcap
//! handle (`pcap_sendpacket` sends on the same kind of socket) no receive ring is set up and
//! filled behind our back, and the caller sees the real `errno` of each `send(2)` (ENOBUFS and
//! EAGAIN are worth a retry, EMSGSIZE means the frame is larger than the interface's MTU).
//! This is what tcpreplay does ("Injection method: PF_PACKET send()").

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Why an interface cannot be written to; each variant is something the user can act on.
#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    #[error("no interface named '{name}'; interfaces: {}", available.join(", "))]
    NoSuchInterface {
        name: String,
        available: Vec<String>,
    },
    /// Packet sockets need CAP_NET_RAW.
    #[error(
        "{name}: permission denied: sending raw frames needs CAP_NET_RAW (run as root, or: setcap cap_net_raw+ep $(command -v wiresift))"
    )]
    PermissionDenied { name: String },
    #[error("{name}: cannot open a packet socket: {source}")]
    Open { name: String, source: io::Error },
}

/// A packet socket bound to one interface.
#[derive(Debug)]
pub struct Injector {
    fd: OwnedFd,
    name: String,
    ifindex: i32,
}

/// Opens a sending handle on `iface`.
pub fn open_injector(iface: &str) -> Result<Injector, InjectError> {
    let no_such = || InjectError::NoSuchInterface {
        name: iface.to_string(),
        available: crate::ifaces::interface_names(),
    };
    let cname = CString::new(iface).map_err(|_| no_such())?;
    #[allow(unsafe_code)]
    // SAFETY: `cname` is a valid NUL-terminated string that outlives the call; the function
    // only reads it.
    let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if ifindex == 0 {
        return Err(no_such());
    }
    let open_err = |source: io::Error| {
        if matches!(
            source.raw_os_error(),
            Some(libc::EPERM) | Some(libc::EACCES)
        ) {
            InjectError::PermissionDenied {
                name: iface.to_string(),
            }
        } else {
            InjectError::Open {
                name: iface.to_string(),
                source,
            }
        }
    };
    #[allow(unsafe_code)]
    // SAFETY: plain system call with constant arguments; it returns a new descriptor or -1.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(open_err(io::Error::last_os_error()));
    }
    #[allow(unsafe_code)]
    // SAFETY: `raw` is a descriptor we just created and own; nothing else refers to it.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    #[allow(unsafe_code)]
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value before we fill it.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = 0; // bind to the interface only: receive nothing
    sll.sll_ifindex = ifindex as i32;
    #[allow(unsafe_code)]
    // SAFETY: `sll` is a fully initialised sockaddr_ll that lives across the call, and the
    // length passed is its size; `fd` is open.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(open_err(io::Error::last_os_error()));
    }
    Ok(Injector {
        fd,
        name: iface.to_string(),
        ifindex: ifindex as i32,
    })
}

impl Injector {
    /// Sends one whole link-layer frame. The error carries the real `errno`.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        #[allow(unsafe_code)]
        // SAFETY: the pointer and length describe `frame`, which is borrowed for the call;
        // send(2) only reads it. `fd` is open for our lifetime.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast::<libc::c_void>(),
                frame.len(),
                0,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sends several frames with one `sendmmsg(2)` (fewer system calls at top speed).
    /// Returns how many were sent, in order; when that is less than `frames.len()`, the error
    /// of the first frame not sent.
    pub fn send_batch(&self, frames: &[&[u8]]) -> (usize, Option<io::Error>) {
        if frames.is_empty() {
            return (0, None);
        }
        let mut iovs: Vec<libc::iovec> = frames
            .iter()
            .map(|f| libc::iovec {
                iov_base: f.as_ptr() as *mut libc::c_void,
                iov_len: f.len(),
            })
            .collect();
        let mut msgs: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .map(|iov| {
                #[allow(unsafe_code)]
                // SAFETY: mmsghdr is plain old data; all-zero is valid (no address, no
                // control data) before the iovec is set.
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                m.msg_hdr.msg_iov = iov;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        #[allow(unsafe_code)]
        // SAFETY: `msgs` holds `msgs.len()` initialised headers whose iovecs point into
        // `iovs`, which point into the borrowed `frames`; all outlive the call, and the kernel
        // only reads the frame bytes (it writes `msg_len` into `msgs`). `fd` is open.
        let n = unsafe {
            libc::sendmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                msgs.len() as libc::c_uint,
                0,
            )
        };
        if n < 0 {
            return (0, Some(io::Error::last_os_error()));
        }
        let n = n as usize;
        if n < frames.len() {
            // The kernel stops at the first failing frame; ask that one again for its errno.
            return (n, self.send(frames[n]).err());
        }
        (n, None)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    /// The interface's hardware address, when it has an Ethernet-like one.
    pub fn mac(&self) -> Option<[u8; 6]> {
        let s = std::fs::read_to_string(format!("/sys/class/net/{}/address", self.name)).ok()?;
        let mut m = [0u8; 6];
        let mut it = s.trim().split(':');
        for b in &mut m {
            *b = u8::from_str_radix(it.next()?, 16).ok()?;
        }
        it.next().is_none().then_some(m)
    }

    /// The interface's MTU.
    pub fn mtu(&self) -> Option<u32> {
        std::fs::read_to_string(format!("/sys/class/net/{}/mtu", self.name))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// Puts the calling thread under `SCHED_FIFO` (priority 1), so that a timed replay wakes up
/// on time on a busy machine: with the default scheduler (EEVDF) a waking thread can wait for
/// the running one's whole slice, about 3 ms, which is more than the gaps of many captures.
/// Needs CAP_SYS_NICE; the kernel's RT throttling (95% of a CPU by default) still bounds it.
/// The replay only sleeps or spins briefly before a deadline, so other work keeps running.
pub fn realtime_thread() -> io::Result<()> {
    let p = libc::sched_param { sched_priority: 1 };
    #[allow(unsafe_code)]
    // SAFETY: `p` is a valid sched_param that lives across the call; pid 0 is the caller.
    let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &p) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_interface_is_named() {
        let e = open_injector("wsft-no-such0").unwrap_err();
        assert!(matches!(e, InjectError::NoSuchInterface { .. }), "{e}");
    }
}
