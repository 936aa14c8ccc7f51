import ArgumentParser
import ConnectorKit
import CSystemTuning

@main
struct Sluice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Moves machine logs (CSV, TXT) from factory PCs into PostgreSQL, Parquet and files.",
        version: SluiceVersion.current,
        subcommands: [Validate.self, ListPipelines.self, Once.self, Run.self, Sample.self, Simulate.self, ParquetCommand.self])

    static func main() async {
        // Batches are allocated on the cooperative pool's threads and freed on a sink's own
        // thread; with glibc's defaults each thread keeps freed memory in an arena of its own, and
        // the 1 MiB read chunks end up in the heap once the mmap threshold has floated up. Two
        // arenas and a fixed 256 KiB threshold keep a 2M-row load at ~57 MiB instead of ~70 MiB
        // peak RSS, for a few percent of speed (BENCHMARKS.md).
        _ = sluice_tune_malloc(2, 256 * 1024)
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
