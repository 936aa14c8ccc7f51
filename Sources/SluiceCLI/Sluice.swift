import ArgumentParser
import Foundation
import ConnectorKit
import Connectors

/// The root command. `SluiceCLI.main` installs the plugins, then calls `main()`.
struct Sluice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Moves machine logs (CSV, TXT) from factory PCs into PostgreSQL, Parquet and files.",
        version: SluiceVersion.current,
        subcommands: [Validate.self, ListPipelines.self, Once.self, Run.self, Reload.self, Checkpoints.self, Cat.self, Sample.self, Simulate.self, ParquetCommand.self, SMBHelper.self])

    static func main() async {
        MemoryTuning.apply()
        // A peer that closed its end (a webhook server, an alert command, a dropped connection)
        // is an error to handle where it happens, not a signal that ends the daemon.
        signal(SIGPIPE, SIG_IGN)
        // Each SMB source talks to libsmbclient in a helper process of its own (this program,
        // `sluice smb-helper`): one hung host never holds up another (see SMBHelperClient).
        if let me = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            SMBIsolation.helperCommand = [me, "smb-helper"]
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
