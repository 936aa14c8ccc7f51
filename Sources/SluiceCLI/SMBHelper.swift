import ArgumentParser
import CSystemTuning
import Connectors
import Foundation
import Logging

/// `sluice smb-helper`: the process an SMB source of the daemon talks to (requests on standard
/// input, answers on standard output). Not for people; hidden from help.
struct SMBHelper: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "smb-helper", abstract: "Serves one SMB share to the daemon over a pipe (internal).",
                                                    shouldDisplay: false)

    @Option(name: .customLong("log-level"), help: "Level of the helper's own messages (standard error).")
    var logLevel: String = "warning"

    func run() async throws {
        // Never outlive the daemon, even one killed with SIGKILL.
        if sluice_exit_with_parent(getppid()) == 1 { return }
        MemoryTuning.applyForSMBHelper()
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        LoggingBootstrap.once(level: level, format: .text)
        var logger = Logger(label: "sluice-smb-helper")
        logger.logLevel = level
        let status = await SMBHelperServer.serve(logger: logger)
        if status != 0 { throw ExitCode(status) }
    }
}
