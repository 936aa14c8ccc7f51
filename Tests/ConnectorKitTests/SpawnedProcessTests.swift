import ConnectorKit
import Foundation
import Glibc
import Testing
import TestSupport

/// `SpawnedProcess`: what a child of Sluice's (an exec plugin, the SMB helper, pg_dump) gets from
/// it, and how its end is seen.
@Suite(.blockingWork) struct SpawnedProcessTests {
    /// Runs `path` with its standard output on a pipe; what it wrote and how it ended.
    static func output(_ path: String, _ arguments: [String], directory: String? = nil) throws -> (String, SpawnedProcess.Ending) {
        let out = ProcessLaunch.pipe()
        let child = try SpawnedProcess.spawn(path, arguments: arguments, directory: directory, output: out.fileHandleForWriting.fileDescriptor)
        try out.fileHandleForWriting.close()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (text, child.waitForEnd())
    }

    /// A descriptor this process left inheritable (as Foundation's pipes are) is not the child's.
    @Test func theChildHoldsOnlyItsStandardStreams() throws {
        var leaky: [Int32] = [-1, -1]
        #expect(pipe(&leaky) == 0)
        defer { close(leaky[0]); close(leaky[1]) }
        #expect(fcntl(leaky[0], F_GETFD) & FD_CLOEXEC == 0)
        let (text, ending) = try Self.output("/bin/sh", ["-c", "for fd in \(leaky[0]) \(leaky[1]); do [ -e /proc/$$/fd/$fd ] && echo holds $fd; done; echo done"])
        #expect(text == "done\n", "the child inherited: \(text)")
        #expect(ending == .exited(0))
    }

    /// Signals this process ignores (the daemon ignores SIGPIPE) or blocks are at their default,
    /// and unblocked, in the child: a plugin that writes to a closed pipe ends as programs expect.
    @Test func theChildStartsWithDefaultSignals() throws {
        let previous = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previous) }
        var blocked = sigset_t(), old = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGUSR2)
        pthread_sigmask(SIG_BLOCK, &blocked, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        let (status, ending) = try Self.output("/bin/cat", ["/proc/self/status"])
        #expect(ending == .exited(0))
        let fields = Dictionary(status.split(separator: "\n").compactMap { line -> (String, String)? in
            let parts = line.split(separator: ":", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), parts[1].trimmingCharacters(in: .whitespaces)) : nil
        }) { a, _ in a }
        // Signals 1 to 31 (bit n-1); glibc's spawn itself ignores its two internal real-time ones.
        func standard(_ field: String) -> UInt64? { fields[field].flatMap { UInt64($0, radix: 16) }.map { $0 & 0x7FFF_FFFF } }
        #expect(standard("SigIgn") == 0, "ignored in the child: \(fields["SigIgn"] ?? "?")")
        #expect(standard("SigBlk") == 0, "blocked in the child: \(fields["SigBlk"] ?? "?")")
    }

    @Test func directoryArgumentsAndHowItEnded() throws {
        let (pwd, _) = try Self.output("/bin/sh", ["-c", "pwd; echo \"$1|$2\"", "sh", "two words", "ü"], directory: "/usr/share")
        #expect(pwd == "/usr/share\ntwo words|ü\n")
        #expect(try Self.output("/bin/sh", ["-c", "exit 7"]).1 == .exited(7))
        #expect(try Self.output("/bin/sh", ["-c", "kill -TERM $$"]).1 == .signalled(SIGTERM))
        #expect(throws: SpawnedProcess.StartError.self) { try SpawnedProcess.spawn("/nonexistent/program", arguments: []) }
    }

    /// The owner's own `waitpid` sees the end at once, whatever another child holds (with
    /// Foundation's `Process`, a child that closed its inherited descriptors held every other
    /// exit back); once reaped, a signal goes nowhere.
    ///
    /// The holder sleeps far longer than any wait here and is ended by the test: on a busy runner
    /// this test may be suspended for minutes, and a holder that ended by itself would prove nothing.
    @Test func anEndIsSeenAtOnceAndAReapedChildIsNeverSignalled() async throws {
        let holder = try SpawnedProcess.spawn("/usr/bin/python3", arguments: ["-c", "import os, time; os.closerange(3, 65536); time.sleep(3600)"])
        defer { holder.signal(SIGKILL); _ = holder.waitForEnd() }
        let quick = try SpawnedProcess.spawn("/bin/sh", arguments: ["-c", "sleep 0.2; exit 3"])
        #expect(quick.isRunning)
        #expect(await quick.ended(within: 120) == .exited(3))
        quick.signal(SIGKILL) // reaped: must not reach whatever now has its pid
        #expect(quick.ended == .exited(3))
        #expect(holder.isRunning)
        #expect(holder.terminate(grace: 5) == .signalled(SIGTERM))
    }
}
