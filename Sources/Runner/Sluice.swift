import ArgumentParser
import Foundation
import ConnectorKit

@main
struct Sluice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Moves machine logs (CSV, TXT) from factory PCs into PostgreSQL, Parquet and files.",
        version: SluiceVersion.current,
        subcommands: [Validate.self, ListPipelines.self, Once.self, Run.self, Reload.self, Checkpoints.self, Sample.self, Simulate.self, ParquetCommand.self])

    static func main() async {
        MemoryTuning.apply()
        // A peer that closed its end (a webhook server, an alert command, a dropped connection)
        // is an error to handle where it happens, not a signal that ends the daemon.
        signal(SIGPIPE, SIG_IGN)
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
