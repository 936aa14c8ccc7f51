import ArgumentParser
import ConnectorKit
import Foundation
import PipelineLoader
import SluiceRuntime

struct Checkpoints: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoints",
        abstract: "Show or reset where a pipeline has committed (local or PostgreSQL checkpoints).",
        subcommands: [Show.self, Reset.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "The committed files, offsets and lines, the files' sizes now, and the last commit.")
        @Argument(help: "The pipeline's name.") var name: String
        @OptionGroup var config: ConfigOptions
        @OptionGroup var options: RunOptions

        func run() async throws {
            let (tool, cluster) = try checkpointTool(name, config: config, options: options)
            let report = try await claimed(name, cluster) { try await tool.show() }
            let c = report.checkpoint
            let when = c.committedAt.map { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: $0)) } ?? "time not recorded"
            print(c.sequence == 0 ? "\(name): nothing committed yet" : "\(name): commit \(c.sequence) (\(when)), \(c.files.count) file(s)")
            if !report.files.isEmpty {
                let width = max(4, report.files.map(\.path.count).max() ?? 4)
                print("  " + "file".padding(toLength: width, withPad: " ", startingAt: 0) + "      offset        size       lines  state")
                for f in report.files {
                    let size = f.size.map(String.init) ?? "gone"
                    let state = f.completed ? "done" : f.size == nil ? "gone" : f.size! > f.offset ? "\(f.size! - f.offset) bytes to read" : "up to date"
                    func right(_ text: String) -> String { String(repeating: " ", count: max(0, 12 - text.count)) + text }
                    print("  " + f.path.padding(toLength: width, withPad: " ", startingAt: 0) + right(String(f.offset)) + right(size) + right(String(f.lines)) + "  " + state)
                }
            }
            for e in report.unseen { print("  \(e.path): not read yet (\(e.size) bytes)") }
            for (k, v) in c.outputs.sorted(by: { $0.key < $1.key }) { print("  output \(k): \(v) bytes committed") }
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset",
            abstract: "Forget where a pipeline stopped (the next run reads again from the start), or move it to the end (skip what is there now).")
        @Argument(help: "The pipeline's name.") var name: String
        @Option(name: .customLong("file"), help: "Only this file (as `checkpoints show` names it).") var file: String?
        @Flag(name: .customLong("to-end"), help: "Skip the complete records in the file(s) now, instead of reading them again.") var toEnd = false
        @OptionGroup var config: ConfigOptions
        @OptionGroup var options: RunOptions

        func run() async throws {
            let (tool, cluster) = try checkpointTool(name, config: config, options: options)
            let changed: [String]
            do { changed = try await claimed(name, cluster) { try await tool.reset(file: file, to: toEnd ? .end : .start) } } catch let e as CheckpointTool.Failure {
                printError("error: \(e)")
                throw ExitCode(1)
            }
            if changed.isEmpty { print("\(name): no file to reset"); return }
            for path in changed { print("\(name): \(path) \(toEnd ? "moved to its end" : "will be read again from the start")") }
        }
    }
}

/// The pipeline built for a checkpoint tool, refused while a daemon schedules it.
func checkpointTool(_ name: String, config: ConfigOptions, options: RunOptions) throws -> (CheckpointTool, ClusterServices) {
    let stateDir = options.resolvedStateDirectory
    if let pid = DaemonPIDFile.runningDaemon(stateDirectory: stateDir),
       ConfigurationReloader.readResult(stateDirectory: stateDir)?.scheduled.contains(name) ?? true {
        printError("error: the sluice daemon (pid \(pid)) runs \(name); stop it, or remove the pipeline from its folder and `sluice reload`, first")
        throw ExitCode(1)
    }
    let definition = try pipelineDefinition(named: name, config: config)
    let logger = options.makeLogger()
    let cluster = try ClusterServices(settings: try config.loadSettings(), settingsFile: config.resolvedSettingsFile, stateDirectory: stateDir, logger: logger)
    let tool = CheckpointTool(pipeline: try definition.build(stateDirectory: stateDir, logger: logger),
                              store: try cluster.checkpointStores.store(for: definition), logger: logger)
    return (tool, cluster)
}

/// In a cluster, the tool holds the pipeline's run lock while it reads or changes the checkpoint:
/// no daemon runs the pipeline meanwhile, and one that does makes the tool wait its turn.
func claimed<T>(_ name: String, _ cluster: ClusterServices, _ body: () async throws -> T) async throws -> T {
    guard let coordinator = cluster.coordinator else { return try await body() }
    switch try await coordinator.claim(name) {
    case .heldElsewhere(let holder):
        printError("error: \(name) is running on \(holder ?? "another daemon") now; try again when that run ends")
        throw ExitCode(1)
    case .granted(let lease):
        do {
            let result = try await body()
            await lease.end(succeededRunStarted: nil)
            return result
        } catch {
            await lease.end(succeededRunStarted: nil)
            throw error
        }
    }
}
