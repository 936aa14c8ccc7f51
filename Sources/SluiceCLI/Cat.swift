import ArgumentParser
import ConnectorKit
import Connectors
import Foundation
import Logging

/// `sluice cat`: a file's bytes as the pipeline's source reads them (from an XP host over SMB, a
/// Linux box over SFTP, a local folder), to standard output; what a run would see, unparsed.
struct Cat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cat",
        abstract: "Print a file as a pipeline's source reads it (raw bytes, from the remote host), e.g. to see what a plant PC writes.")
    @Argument(help: "The pipeline's name.") var name: String
    @Argument(help: "The file, as `sluice checkpoints show` names it (one the source's glob matches).") var file: String
    @OptionGroup var config: ConfigOptions
    @OptionGroup var options: RunOptions

    /// Bytes per read: 1 MiB, one in-process SMB block (`SMBReadBlocks`). A run asks for
    /// 256 KiB chunks, each a hop from its task to the source's thread and back; for a plain
    /// copy those hops set the pace (on a busy two-core machine a 200 MiB SMB pull took 0.40-0.80 s
    /// in 256 KiB reads, 0.23-0.36 s in 1 MiB ones, smbclient 0.22-0.48 s). Still below the
    /// heap's mmap threshold (MemoryTuning): each buffer is reused, not mapped afresh.
    static let chunk = 1 << 20

    func run() async throws {
        SMBIsolation.serveOneShareInProcess()
        let definition = try pipelineDefinition(named: name, config: config)
        let logger = options.makeLogger()
        let pipeline = try definition.build(stateDirectory: options.resolvedStateDirectory, logger: logger)
        guard let source = pipeline.source as? any FileReadingSource else {
            printError("error: the source of \(name) reads no files")
            throw ExitCode(1)
        }
        do {
            try await copy(from: source, logger: logger)
            await source.endRun(context: RunContext(pipeline: name, logger: logger))
            await source.shutdown()
        } catch {
            await source.endRun(context: RunContext(pipeline: name, logger: logger))
            await source.shutdown()
            throw error
        }
    }

    private func copy(from source: any FileReadingSource, logger: Logger) async throws {
        // Only a file the source lists: a name can never reach outside the source's folder.
        let files = try await source.listFiles(logger: logger)
        guard let entry = files.first(where: { $0.path == file }) else {
            printError("error: \(name)'s source has no file '\(file)'" + (files.isEmpty ? "" : "; it has: " + files.prefix(20).map(\.path).joined(separator: ", ")))
            throw ExitCode(1)
        }
        var offset: Int64 = 0
        while offset < entry.size {
            let bytes = try await source.readFile(entry.path, offset: offset, length: Int(min(Int64(Self.chunk), entry.size - offset)))
            if bytes.isEmpty { break }
            try Self.writeAll(bytes)
            offset += Int64(bytes.count)
        }
    }

    static func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = write(STDOUT_FILENO, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw ExitCode(errno == EPIPE ? 0 : 1) }
                done += n
            }
        }
    }
}
