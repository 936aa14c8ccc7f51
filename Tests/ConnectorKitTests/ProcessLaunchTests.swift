import ConnectorKit
import Foundation
import Glibc
import Testing
import TestSupport

/// `ProcessLaunch`: the pipes it makes never reach another child, and the child it starts still
/// gets its own ends.
@Suite(.blockingWork) struct ProcessLaunchTests {
    @Test func pipesAreCloseOnExecAndStillReachTheirOwnChild() throws {
        let mine = ProcessLaunch.pipe(), other = ProcessLaunch.pipe()
        for fd in [mine.fileHandleForReading.fileDescriptor, mine.fileHandleForWriting.fileDescriptor] {
            #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0, "descriptor \(fd) would be inherited by any child started meanwhile")
        }
        // The child lists its open descriptors: its standard output is `mine`, and `other`'s
        // ends (open in this process while it starts) are not among them.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ls -l /proc/self/fd/ 2>/dev/null; echo end"]
        p.standardOutput = mine
        try ProcessLaunch.run(p)
        try mine.fileHandleForWriting.close()
        let listing = String(decoding: mine.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(listing.hasSuffix("end\n"))
        let otherInodes = [other.fileHandleForReading.fileDescriptor, other.fileHandleForWriting.fileDescriptor].map { fd -> String in
            var st = stat()
            fstat(fd, &st)
            return "pipe:[\(st.st_ino)]"
        }
        for inode in otherInodes { #expect(!listing.contains(inode), "the child holds another pipe: \(listing)") }
    }

    /// A child that closes the descriptors it inherited holds Foundation's one reaper thread in a
    /// blocking `waitpid` until it ends; another child's exit meanwhile stays unnoticed by
    /// `isRunning`. `waitForEnd` (TestSupport) sees that exit at once all the same.
    @Test func anEndedChildIsSeenWhileFoundationsReaperIsHeldByAnother() throws {
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        holder.arguments = ["-c", "import os, time; os.closerange(3, 65536); time.sleep(20)"]
        try ProcessLaunch.run(holder)
        defer { kill(holder.processIdentifier, SIGKILL) }
        Thread.sleep(forTimeInterval: 1) // it has closed them
        let quick = Process()
        quick.executableURL = URL(fileURLWithPath: "/bin/sh")
        quick.arguments = ["-c", "exit 7"]
        let started = Date()
        try ProcessLaunch.run(quick)
        let status = quick.waitForEnd()
        #expect(status == 7)
        #expect(Date().timeIntervalSince(started) < 10, "the exit was seen only when the other child ended")
    }
}
