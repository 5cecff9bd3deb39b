//! Never hold a stopped broker's port: drop TCP self-connections at once.
//!
//! A broker's port may lie inside the kernel's ephemeral range (32768-60999 on Linux:
//! the seed's 39092 and 49092 do). While that broker is down, a client reconnecting to
//! it can be given the port itself as its source port, and Linux then completes the
//! connect as a *self-connection* (local address == remote address). Closed normally,
//! such a socket lingers in TIME_WAIT for 60 s, and a broker restarted meanwhile dies
//! with "Address already in use". kpipes' tools reconnect every 10 ms, so they are the
//! likeliest clients to do it.
//!
//! Every client kcore creates gets a librdkafka connect callback that connects as
//! librdkafka would, recognises a self-connection, and makes it fail with an abortive
//! close (SO_LINGER 0: a reset, no TIME_WAIT), so the port is free again at once.
//!
//! rdkafka builds the librdkafka configuration itself and offers no way to add
//! callbacks to it, so the callback is set on the client's own configuration right
//! after creation, while the client knows no broker yet (it is created without
//! `bootstrap.servers`), and the brokers are added after that: no connection can be
//! made before the callback is in place.

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};

use anyhow::{anyhow, Result};
use rdkafka::bindings as rd;

/// Install the callback on a client created without brokers, then give it `brokers`.
///
/// # Safety
/// `client` must be a live librdkafka handle that no broker was added to yet.
pub(crate) unsafe fn guard_and_connect(client: *mut rd::rd_kafka_t, brokers: &str) -> Result<()> {
    // SAFETY: the caller keeps this function's contract (its `# Safety`).
    unsafe {
        // rd_kafka_conf() hands out the client's own configuration as read-only; the
        // callback field is read only when a broker connects, and there is no broker yet.
        let conf = rd::rd_kafka_conf(client) as *mut rd::rd_kafka_conf_t;
        rd::rd_kafka_conf_set_connect_cb(conf, Some(connect_unless_self));
        let list = CString::new(brokers).map_err(|_| anyhow!("broker list contains a NUL byte"))?;
        // The count of brokers added is not an error signal: a list librdkafka cannot parse
        // surfaces as connection failures, as it would from bootstrap.servers.
        rd::rd_kafka_brokers_add(client, list.as_ptr());
        Ok(())
    }
}

/// librdkafka's connect callback: returns 0 (connected or in progress) or an errno.
unsafe extern "C" fn connect_unless_self(
    fd: c_int,
    addr: *const libc::sockaddr,
    addrlen: c_int,
    _broker: *const c_char,
    _opaque: *mut c_void,
) -> c_int {
    // SAFETY: librdkafka hands over a fresh socket and an address of `addrlen` bytes,
    // which is all connect(2) and the checks below need.
    unsafe { connect_unless_self_body(fd, addr, addrlen) }
}

/// The body of [`connect_unless_self`].
///
/// # Safety
/// `fd` is a socket; `addr` points to `addrlen` readable bytes of a socket address.
unsafe fn connect_unless_self_body(
    fd: c_int,
    addr: *const libc::sockaddr,
    addrlen: c_int,
) -> c_int {
    // SAFETY: the caller's promise covers connect(2) on `fd` with `addr`.
    if unsafe { libc::connect(fd, addr, addrlen as libc::socklen_t) } == -1 {
        let errno = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        if errno != libc::EINPROGRESS {
            return errno;
        }
    }
    // SAFETY: the same socket and address, as the caller promised.
    if unsafe { is_self_connection(fd, addr, addrlen as libc::socklen_t) } {
        // SAFETY: `fd` is the caller's live socket.
        unsafe { abort_on_close(fd) };
        // To librdkafka the broker is simply not there (which is true); it closes the
        // socket and retries later, by which time the broker may listen again.
        return libc::ECONNREFUSED;
    }
    0
}

/// Whether the socket's own address is the address it connects to.
unsafe fn is_self_connection(
    fd: c_int,
    peer: *const libc::sockaddr,
    peer_len: libc::socklen_t,
) -> bool {
    // SAFETY: the caller keeps this function's contract (its `# Safety`).
    unsafe {
        let mut local: libc::sockaddr_storage = std::mem::zeroed();
        let mut local_len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        if libc::getsockname(
            fd,
            &mut local as *mut _ as *mut libc::sockaddr,
            &mut local_len,
        ) != 0
        {
            return false;
        }
        same_endpoint(&local, peer, peer_len)
    }
}

/// Family, address and port equal (the only parts a TCP endpoint has).
unsafe fn same_endpoint(
    local: &libc::sockaddr_storage,
    peer: *const libc::sockaddr,
    peer_len: libc::socklen_t,
) -> bool {
    // SAFETY: the caller keeps this function's contract (its `# Safety`).
    unsafe {
        let family = c_int::from((*peer).sa_family);
        if c_int::from(local.ss_family) != family {
            return false;
        }
        match family {
            libc::AF_INET if peer_len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
                let a = &*(local as *const _ as *const libc::sockaddr_in);
                let b = &*(peer as *const libc::sockaddr_in);
                a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr
            }
            libc::AF_INET6 if peer_len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
                let a = &*(local as *const _ as *const libc::sockaddr_in6);
                let b = &*(peer as *const libc::sockaddr_in6);
                a.sin6_port == b.sin6_port && a.sin6_addr.s6_addr == b.sin6_addr.s6_addr
            }
            _ => false,
        }
    }
}

/// Make the coming close(2) send a reset instead of a FIN, so no TIME_WAIT is left.
unsafe fn abort_on_close(fd: c_int) {
    // SAFETY: the caller keeps this function's contract (its `# Safety`).
    unsafe {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const _ as *const c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};

    fn loopback(port: u16) -> libc::sockaddr_in {
        libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        }
    }

    /// A socket bound to a port and connected to that same port: a self-connection.
    #[test]
    fn a_self_connection_is_refused_and_leaves_the_port_free() {
        // Find a free port, then let it go.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = loopback(port);
        let len = std::mem::size_of::<libc::sockaddr_in>() as c_int;
        // SAFETY: a socket of our own and a local sockaddr_in of the stated length.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0);
            let bound = libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len as u32);
            assert_eq!(bound, 0, "binding the test port");
            let result = connect_unless_self(
                fd,
                &addr as *const _ as *const libc::sockaddr,
                len,
                std::ptr::null(),
                std::ptr::null_mut(),
            );
            assert_eq!(
                result,
                libc::ECONNREFUSED,
                "a self-connection must be refused"
            );
            libc::close(fd);
        }
        // No TIME_WAIT holds the port: a server can take it at once.
        TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
            .expect("the port must be free right after the self-connection is dropped");
    }

    #[test]
    fn an_ordinary_connection_goes_through() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let addr = loopback(port);
        // SAFETY: a socket of our own and a local sockaddr_in of the stated length.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            let result = connect_unless_self(
                fd,
                &addr as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>() as c_int,
                std::ptr::null(),
                std::ptr::null_mut(),
            );
            assert_eq!(result, 0);
            libc::close(fd);
        }
    }
}
