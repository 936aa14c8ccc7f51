import ArgumentParser
import ConnectorKit
import Foundation
import Logging
import PipelineLoader
import ServiceLifecycle

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run every scheduled pipeline as a daemon (SIGTERM finishes the current batch, commits and exits 0).")

    @OptionGroup var config: ConfigOptions
    @OptionGroup var options: RunOptions

    func run() async throws {
        let logger = options.makeLogger()
        let (pipelines, errors, dir) = loadPipelines(config)
        for e in errors { logger.error("invalid pipeline file, not started: \(e)") }
        let scheduled = pipelines.filter { $0.settings.schedule != .manual }
        if scheduled.isEmpty {
            printError("error: no scheduled pipeline in \(dir)")
            throw ExitCode(1)
        }
        let stateDir = options.resolvedStateDirectory
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        for definition in scheduled {
            let pipeline = try definition.build(stateDirectory: stateDir, logger: logger)
            var l = logger
            l[metadataKey: "pipeline"] = "\(definition.name)"
            services.append(.init(service: PipelineService(definition: definition, pipeline: pipeline, stateDirectory: stateDir, logger: l)))
        }
        logger.info("sluice started", metadata: ["pipelines": "\(scheduled.map(\.name).joined(separator: ","))", "state_dir": "\(stateDir)"])
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("sluice stopped")
    }
}

/// Runs one pipeline on its schedule; a failing run backs off and retries without touching the
/// other pipelines.
struct PipelineService: Service {
    let definition: PipelineDefinition
    let pipeline: Pipeline
    let stateDirectory: String
    let logger: Logger

    func run() async throws {
        guard case let .every(interval) = definition.settings.schedule else { return }
        let stop = StopToken()
        let engine = PipelineEngine(pipeline: pipeline, checkpointStore: LocalCheckpointStore(stateDirectory: stateDirectory, pipeline: definition.name))
        var failures = 0
        await withGracefulShutdownHandler {
            while !stop.isStopped {
                let context = RunContext(pipeline: definition.name, logger: logger, stop: stop)
                var delay = interval
                do {
                    try await engine.runOnce(context: context)
                    failures = 0
                    let c = context.stats.counts
                    if c.recordsWritten > 0 || c.deadLetters > 0 {
                        logger.info("run finished", metadata: ["records": "\(c.recordsWritten)", "dead_letters": "\(c.deadLetters)", "bytes": "\(c.bytesRead)"])
                    }
                } catch {
                    failures += 1
                    delay = min(300, pow(2, Double(min(failures, 9))))
                    logger.error("run failed; retrying in \(Int(delay)) s: \(error)", metadata: ["failures": "\(failures)"])
                }
                if stop.isStopped { break }
                let pause = delay
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(pause)) }
            }
        } onGracefulShutdown: {
            stop.stop()
        }
    }
}
