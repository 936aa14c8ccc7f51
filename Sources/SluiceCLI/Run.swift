import ArgumentParser
import ConnectorKit
import Foundation
import Logging
import PipelineLoader
import ServiceLifecycle
import SluiceRuntime
import SluiceServer
import UnixSignals

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run every scheduled pipeline as a daemon (SIGTERM finishes the current batch, commits and exits 0; SIGHUP or `sluice reload` re-reads the pipeline files).")

    @OptionGroup var config: ConfigOptions
    @OptionGroup var options: RunOptions

    @Option(name: .customLong("max-concurrent-runs"), help: "Pipelines and jobs running at the same time, at most (default: sluice.toml's, else 4).")
    var maxConcurrentRuns: Int?

    @Option(name: .customLong("listen"), help: "Address of the status page, /metrics, /health, /ready and /api (default: sluice.toml's, else 127.0.0.1:9430; \"off\" for none).")
    var listen: String?

    func run() async throws {
        let dir = config.resolvedConfigDirectory
        var settings = try config.loadSettings()
        if let listen {
            do { settings.listen = try ListenAddress.parse(listen) } catch {
                printError("error: --listen: \(error.message)")
                throw ExitCode(1)
            }
        }
        if let maxConcurrentRuns { settings.maxConcurrentRuns = max(1, maxConcurrentRuns) }
        let logger = options.makeLogger(fallback: settings.logFormat)
        let stateDir = options.resolvedStateDirectory
        // Signals are trapped before anything else: a SIGHUP sent while starting must not kill
        // the daemon, and a SIGTERM (systemd stopping it just after a start) must not end it
        // without its drain; the first runs start before the service group does.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let stops = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let pidFile: DaemonPIDFile
        do { pidFile = try DaemonPIDFile.claim(stateDirectory: stateDir) } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        defer { pidFile.release() }
        let metrics = PrometheusBackend()
        metrics.bootstrap()
        let cluster = try ClusterServices(settings: settings, settingsFile: config.resolvedSettingsFile, stateDirectory: stateDir, logger: logger)
        let scheduler = Scheduler(maxConcurrentRuns: settings.maxConcurrentRuns, stateDirectory: stateDir, logger: logger,
                                  defaultAlerts: settings.onFailure, coordinator: cluster.coordinator)
        let state = DaemonState(status: scheduler.status)
        let reloader = ConfigurationReloader(directory: dir, stateDirectory: stateDir, loader: SluiceCLI.loader(), scheduler: scheduler, logger: logger,
                                             checkpointStores: cluster.checkpointStores)
        if let coordinator = cluster.coordinator { logger.info("runs are claimed through \(coordinator.description)", metadata: ["node": "\(cluster.node ?? "")"]) }
        let first = await reloader.reload()
        state.recordReload(first)
        let names = await reloader.names
        if names.isEmpty {
            await scheduler.stopAll()
            printError("error: no scheduled pipeline or job in \(dir)")
            throw ExitCode(1)
        }
        logger.info("sluice started", metadata: ["scheduled": "\(names.joined(separator: ","))", "errors": "\(first.errors.count)", "state_dir": "\(stateDir)"])
        // Services stop in reverse order: the scheduler drains first while the HTTP server still
        // answers (503 on /health), then the server stops.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        let addressFile = DaemonPIDFile.httpAddressPath(stateDirectory: stateDir)
        if let listen = settings.listen {
            let server = StatusServer(state: state, registry: metrics.registry, host: listen.host, port: listen.port, logger: logger) { bound in
                try? FileUtilities.writeAtomically(Array((bound + "\n").utf8), to: addressFile)
            }
            services.append(.init(service: server.application()))
        }
        defer { try? FileManager.default.removeItem(atPath: addressFile) }
        services.append(.init(service: DaemonService(reloader: reloader, state: state, hangups: hangups, logger: logger)))
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        do {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                // A stop that came before the group ran is remembered by it, and honoured.
                tasks.addTask { for await _ in stops { await group.triggerGracefulShutdown() } }
                try await group.run()
                tasks.cancelAll()
            }
        } catch {
            await scheduler.stopAll()
            printError("error: \(settings.listen.map { "cannot serve http://\($0)/: " } ?? "")\(error)")
            throw ExitCode(1)
        }
        logger.info("sluice stopped")
    }
}

/// The scheduler as a lifecycle service: SIGHUP reloads; graceful shutdown lets every current
/// run finish its batch and commit, then returns.
struct DaemonService: Service {
    let reloader: ConfigurationReloader
    let state: DaemonState
    let hangups: UnixSignalsSequence
    let logger: Logger

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups {
                    logger.info("SIGHUP: reloading the pipeline files")
                    state.recordReload(await reloader.reload())
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        state.startDraining()
        logger.notice("stopping: current runs finish their batch and commit")
        await reloader.scheduler.stopAll()
    }
}

struct Reload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reload", abstract: "Make the running daemon re-read its pipeline files (for systemd's ExecReload); prints what changed.")

    @OptionGroup var options: RunOptions

    @Option(name: .customLong("timeout"), help: "Seconds to wait for the daemon's answer.")
    var timeout = 30.0

    func run() async throws {
        let stateDir = options.resolvedStateDirectory
        guard let pid = DaemonPIDFile.runningDaemon(stateDirectory: stateDir) else {
            printError("error: no sluice daemon runs with the state folder \(stateDir)")
            throw ExitCode(1)
        }
        let before = ConfigurationReloader.readResult(stateDirectory: stateDir)?.number ?? -1
        guard kill(pid, SIGHUP) == 0 else {
            printError("error: cannot signal the daemon (pid \(pid)): \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let result = ConfigurationReloader.readResult(stateDirectory: stateDir), result.number > before {
                print("reloaded: \(result.summary)")
                for e in result.errors { printError("error: \(e)") }
                if !result.succeeded { throw ExitCode(1) }
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        printError("error: the daemon (pid \(pid)) did not answer within \(Int(timeout)) s")
        throw ExitCode(1)
    }
}
