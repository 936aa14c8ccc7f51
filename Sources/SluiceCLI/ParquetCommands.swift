import ArgumentParser
import ConnectorKit
import Foundation
import Parquet

/// `sluice parquet inspect|cat FILE`: look into a Parquet file without another tool.
struct ParquetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parquet",
        abstract: "Inspect a Parquet file or print its rows.",
        subcommands: [Inspect.self, Cat.self])

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Print a Parquet file's schema, row groups, statistics and metadata.")

        @Argument(help: "The Parquet file.") var file: String

        func run() throws {
            let reader = try open(file)
            print(reader.describe(name: file, size: (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int64) ?? 0))
        }
    }

    struct Cat: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "cat", abstract: "Print a Parquet file's rows as JSON lines.")

        @Argument(help: "The Parquet file.") var file: String
        @Option(help: "Print at most this many rows.") var limit: Int?

        func run() throws {
            let reader = try open(file)
            var remaining = limit ?? Int.max
            var out: [UInt8] = []
            for g in 0..<reader.rowGroupCount where remaining > 0 {
                let batch = try reader.readBatch(g, file: file)
                let rows = min(batch.count, remaining)
                remaining -= rows
                // A row group can be large: write it in slices so memory stays near one group.
                var start = 0
                while start < rows {
                    let end = min(rows, start + 4096)
                    out.removeAll(keepingCapacity: true)
                    JSONLines.append(batch, rows: start..<end, to: &out)
                    FileHandle.standardOutput.write(Data(out))
                    start = end
                }
            }
        }
    }
}

private func open(_ file: String) throws -> ParquetFileReader {
    do {
        return try ParquetFileReader(path: file)
    } catch {
        printError("error: \(file): \(error)")
        throw ExitCode(1)
    }
}
