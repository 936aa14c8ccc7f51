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
        let (pipelines, jobs, errors, dir) = loadPipelines(config)
        for e in errors { logger.error("invalid pipeline file, not started: \(e)") }
        let scheduled = pipelines.filter { $0.settings.schedule != .manual }
        let scheduledJobs = jobs.filter { $0.settings.schedule != .manual }
        if scheduled.isEmpty && scheduledJobs.isEmpty {
            printError("error: no scheduled pipeline or job in \(dir)")
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
        for job in scheduledJobs {
            var l = logger
            l[metadataKey: "job"] = "\(job.name)"
            services.append(.init(service: JobService(job: job, pipelines: pipelines, stateDirectory: stateDir, logger: l)))
        }
        logger.info("sluice started", metadata: ["pipelines": "\(scheduled.map(\.name).joined(separator: ","))", "jobs": "\(scheduledJobs.map(\.name).joined(separator: ","))", "state_dir": "\(stateDir)"])
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
        let schedule = definition.settings.schedule
        let stop = StopToken()
        let engine = PipelineEngine(pipeline: pipeline, checkpointStore: LocalCheckpointStore(stateDirectory: stateDirectory, pipeline: definition.name))
        var failures = 0
        await withGracefulShutdownHandler {
            // A cron schedule waits for its first time; "every" starts at once.
            if case .cron = schedule, let first = schedule.delay(now: Date(), lastRunEnded: nil) {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(first)) }
            }
            while !stop.isStopped {
                let context = RunContext(pipeline: definition.name, logger: logger, stop: stop)
                var delay: Double
                do {
                    try await engine.runOnce(context: context)
                    failures = 0
                    guard let next = schedule.delay(now: Date(), lastRunEnded: Date()) else { return }
                    delay = next
                    let c = context.stats.counts
                    if c.recordsWritten > 0 || c.deadLetters > 0 {
                        logger.info("run finished", metadata: ["records": "\(c.recordsWritten)", "dead_letters": "\(c.deadLetters)", "bytes": "\(c.bytesRead)"])
                    } else {
                        logger.debug("run finished, nothing new")
                    }
                } catch let error as ConnectorError where error.code == .authentication {
                    // Refused credentials will not fix themselves in seconds: no retry storm
                    // (which can also lock the account). Wait for the schedule, at least 5 min.
                    failures += 1
                    delay = max(300, schedule.delay(now: Date(), lastRunEnded: Date()) ?? 300)
                    logger.error("run failed; trying again in \(Int(delay)) s: \(error)", metadata: ["failures": "\(failures)"])
                } catch {
                    failures += 1
                    delay = min(definition.settings.retryMaxDelay.seconds, pow(2, Double(min(failures, 9))))
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
