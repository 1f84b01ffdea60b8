import CSpawn
import Foundation
import Glibc

/// A program run to its end: its exit status, its output, and a deadline after which its process group is
/// killed.
///
/// Note [waiting for a child]: a child is over when `waitpid` says it exited, not when every copy of its
/// pipes and descriptors is closed. Foundation's `Process` on Linux notices the end of a child by the
/// closing of a socket the child inherits, so a daemon the child starts (munged, slurmd, a delay line) that
/// keeps its inherited descriptors keeps `waitUntilExit` waiting for ever: the hang that cost a CI run its
/// 90 minutes. Here the child gets only stdin (/dev/null), stdout and stderr; it is waited for with
/// `waitpid`; its pipes are drained until they close or, once it has exited, for at most `drainGrace`
/// seconds more (what a daemon still holds is not waited for).
public struct ChildProcess: Sendable {
    /// How a run ended.
    public struct Result: Sendable {
        /// The exit status, or 128 + the signal's number when a signal ended it.
        public var status: Int32
        /// Standard output (with standard error when they were merged).
        public var output: Data
        /// Standard error (empty when merged into `output`).
        public var error: Data
        /// Whether the deadline ended it.
        public var timedOut: Bool

        public var outputText: String { String(decoding: output, as: UTF8.self) }
        public var errorText: String { String(decoding: error, as: UTF8.self) }
    }

    /// The program (looked up on PATH unless it holds a "/") and its arguments.
    public var command: [String]
    /// The whole environment; nil inherits this process's.
    public var environment: [String: String]?
    /// The working directory; nil keeps this process's.
    public var directory: String?
    /// Standard error into the same pipe as standard output, in the order written.
    public var mergeErrorIntoOutput = false
    /// Seconds until SIGTERM to the child's process group, then SIGKILL `killGrace` seconds later.
    public var timeout: Double?
    public var killGrace: Double = 5
    /// Seconds to keep reading pipes that are still open after the child has exited.
    public var drainGrace: Double = 1

    public init(
        _ command: [String], environment: [String: String]? = nil, directory: String? = nil,
        mergeErrorIntoOutput: Bool = false, timeout: Double? = nil
    ) {
        self.command = command
        self.environment = environment
        self.directory = directory
        self.mergeErrorIntoOutput = mergeErrorIntoOutput
        self.timeout = timeout
    }

    /// This process's environment with `changes` applied.
    public static func environment(adding changes: [String: String]) -> [String: String] {
        ProcessInfo.processInfo.environment.merging(changes) { $1 }
    }

    /// Starts the child in a process group of its own (signals from a terminal reach this process, which
    /// may forward them), calls `started` with its pid, passes each piece of output to `received` as it
    /// arrives (`isError` for standard error), and returns when it has exited.
    public func run(
        started: (pid_t) -> Void = { _ in }, received: (Data, _ isError: Bool) -> Void = { _, _ in }
    ) throws -> Result {
        guard let program = command.first else { throw ChildProcessError("no command to run") }
        let output = try Self.pipe(), error = mergeErrorIntoOutput ? nil : try Self.pipe()
        var readEnds = [output.read] + (error.map { [$0.read] } ?? [])
        defer { for fd in readEnds { close(fd) } }
        let pid: pid_t
        do {
            defer {
                close(output.write)
                if let error { close(error.write) }
            }
            pid = try spawn(program, output: output.write, error: error?.write ?? output.write)
        }
        started(pid)

        var collected = [Data(), Data()]
        var status: Int32?
        var timedOut = false
        let start = Date()
        var exitedAt: Date?
        var terminatedAt: Date?
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if status == nil {
                var raw: Int32 = 0
                let waited = waitpid(pid, &raw, WNOHANG)
                if waited == pid {
                    // Exited: its code; killed: 128 + the signal.
                    status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
                    exitedAt = Date()
                } else if waited < 0 && errno == ECHILD {
                    // Reaped by someone else (a library's SIGCHLD handler): over, its status unknown.
                    status = 255
                    exitedAt = Date()
                }
            }
            if readEnds.isEmpty && status != nil { break }
            if let exitedAt, Date().timeIntervalSince(exitedAt) > drainGrace { break }
            if status == nil, let timeout {
                let elapsed = Date().timeIntervalSince(start)
                if terminatedAt == nil && elapsed > timeout {
                    timedOut = true
                    terminatedAt = Date()
                    kill(-pid, SIGTERM)
                } else if let terminatedAt, Date().timeIntervalSince(terminatedAt) > killGrace {
                    kill(-pid, SIGKILL)
                }
            }
            var polled = readEnds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if polled.isEmpty {
                usleep(20_000)
                continue
            }
            guard poll(&polled, nfds_t(polled.count), 50) >= 0 || errno == EINTR else {
                throw ChildProcessError("\(program): poll failed: \(String(cString: strerror(errno)))")
            }
            for entry in polled where entry.revents != 0 {
                let count = read(entry.fd, &buffer, buffer.count)
                if count > 0 {
                    let piece = Data(buffer[0..<count])
                    let isError = error != nil && entry.fd == error!.read
                    collected[isError ? 1 : 0].append(piece)
                    received(piece, isError)
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(entry.fd)
                    readEnds.removeAll { $0 == entry.fd }
                }
            }
        }
        // The loop ends only once the child's status is known.
        return Result(status: status!, output: collected[0], error: collected[1], timedOut: timedOut)
    }

    /// posix_spawn with stdin from /dev/null, the given stdout and stderr, no other descriptor, default
    /// signal dispositions and an empty signal mask, in a new process group.
    private func spawn(_ program: String, output: Int32, error: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, error, 2)
        spawn_shim_addclosefrom(&actions, 3)
        if let directory { spawn_shim_addchdir(&actions, directory) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t(), empty = sigset_t()
        sigemptyset(&empty)
        sigemptyset(&defaults)
        for signalNumber in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGCHLD] {
            sigaddset(&defaults, signalNumber)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let environment = (self.environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let argv = command.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid = pid_t()
        let failure = posix_spawnp(&pid, program, &actions, &attributes, argv, envp)
        guard failure == 0 else {
            throw ChildProcessError("cannot run \(program): \(String(cString: strerror(failure)))")
        }
        return pid
    }

    private static func pipe() throws -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        guard spawn_shim_pipe_cloexec(&ends) == 0 else {
            throw ChildProcessError("cannot make a pipe: \(String(cString: strerror(errno)))")
        }
        return (ends[0], ends[1])
    }
}

/// A child that could not be started.
public struct ChildProcessError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
