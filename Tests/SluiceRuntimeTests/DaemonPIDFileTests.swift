import Foundation
import SluiceRuntime
import Testing
import TestSupport

/// One daemon per state folder, decided by the lock the daemon holds, not by whether the pid
/// written in the file happens to be alive.
@Suite(.blockingWork) struct DaemonPIDFileTests {
    static func folder() throws -> String {
        let dir = NSTemporaryDirectory() + "sluice-pidfile-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func aSecondClaimIsRefusedWhileTheFirstHoldsTheFolder() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try DaemonPIDFile.claim(stateDirectory: dir)
        #expect(DaemonPIDFile.runningDaemon(stateDirectory: dir) == getpid())
        let attrs = try FileManager.default.attributesOfItem(atPath: first.path)
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
        do {
            let second = try DaemonPIDFile.claim(stateDirectory: dir)
            second.release()
            Issue.record("a second daemon took a held state folder")
        } catch {
            guard case .anotherDaemon(let pid, _) = error else { Issue.record("\(error)"); return }
            #expect(pid == getpid())
            #expect("\(error)".contains("another sluice daemon (pid \(getpid())) uses the state folder \(dir)"))
        }
        first.release()
        #expect(!FileManager.default.fileExists(atPath: first.path))
        #expect(DaemonPIDFile.runningDaemon(stateDirectory: dir) == nil)
        try DaemonPIDFile.claim(stateDirectory: dir).release()
    }

    /// A SIGKILLed daemon leaves its file behind; its pid may still exist (a zombie not yet
    /// reaped) or belong to another program by now. Neither keeps the folder.
    @Test func aFileLeftBehindWithTheLivePIDOfAnotherProcessDoesNotHoldTheFolder() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stale = DaemonPIDFile.path(stateDirectory: dir)
        try FileManager.default.createDirectory(atPath: (stale as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let other = getppid()  // alive for as long as this test runs
        try "\(other)\n".write(toFile: stale, atomically: true, encoding: .utf8)
        #expect(kill(other, 0) == 0)
        #expect(DaemonPIDFile.runningDaemon(stateDirectory: dir) == nil)
        let claimed = try DaemonPIDFile.claim(stateDirectory: dir)
        #expect(try String(contentsOfFile: stale, encoding: .utf8) == "\(getpid())\n")
        claimed.release()
    }
}
