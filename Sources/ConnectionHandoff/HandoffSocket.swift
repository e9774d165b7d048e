import CConnectionHandoff

#if canImport(Glibc)
    import Glibc
#endif

/// A failed socket call of the handoff, with the system's reason.
public struct HandoffSocketError: Error, CustomStringConvertible {
    public let operation: String
    public let code: Int32

    public var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

/// The blocking socket calls both ends of a handoff make, as throwing Swift functions over the
/// C shim (SCM_RIGHTS needs the CMSG_* macros). Descriptors are close-on-exec.
public enum HandoffSocket {
    /// A listening TCP socket and the port it is bound to (the real one for port 0).
    public static func listenTCP(host: String, port: Int, backlog: Int32 = 4096) throws -> (
        descriptor: CInt, port: Int
    ) {
        var bound: CInt = 0
        let fd = try check(ch_listen_tcp(host, CInt(port), backlog, &bound), "listen on \(host):\(port)")
        return (fd, Int(bound))
    }

    public static func listenUnix(path: String, backlog: Int32 = 64) throws -> CInt {
        try check(ch_listen_unix(path, backlog), "listen on unix:\(path)")
    }

    public static func connectUnix(path: String) throws -> CInt {
        try check(ch_connect_unix(path), "connect to unix:\(path)")
    }

    /// The next connection; throws `EINVAL` once the listener was shut down.
    public static func accept(_ listener: CInt) throws -> CInt {
        try check(ch_accept(listener), "accept")
    }

    /// Hands `descriptor` to the process at the other end of `socket`; the caller keeps its copy
    /// and closes it.
    public static func send(descriptor: CInt, over socket: CInt) throws {
        _ = try check(ch_send_descriptor(socket, descriptor), "send a descriptor")
    }

    /// The next descriptor handed over `socket`, or nil once the peer closed it.
    public static func receiveDescriptor(from socket: CInt) throws -> CInt? {
        var fd: CInt = -1
        return try check(ch_receive_descriptor(socket, &fd), "receive a descriptor") == 1 ? fd : nil
    }

    public static func setNoDelay(_ fd: CInt) {
        _ = ch_set_nodelay(fd)
    }

    public static func setSendTimeout(_ fd: CInt, milliseconds: Int) {
        _ = ch_set_send_timeout(fd, CInt(milliseconds))
    }

    /// Wakes a thread blocked in `accept` or `read` on `fd` (the descriptor stays open).
    public static func wake(_ fd: CInt) {
        _ = Glibc.shutdown(fd, CInt(SHUT_RDWR))
    }

    /// Writes `bytes` without blocking; false if they did not all fit or the peer is gone.
    public static func sendNow(_ bytes: [UInt8], over fd: CInt) -> Bool {
        bytes.withUnsafeBytes { p in
            Glibc.send(fd, p.baseAddress, p.count, CInt(MSG_DONTWAIT | MSG_NOSIGNAL)) == p.count
        }
    }

    private static func check(_ result: CInt, _ operation: @autoclosure () -> String) throws -> CInt {
        guard result >= 0 else { throw HandoffSocketError(operation: operation(), code: -result) }
        return result
    }
}
