import ConnectorKit
import Connectors
import Foundation
import PipelineLoader
import Synchronization

/// The `sluice` program as a library: a package with plugins of its own builds its own `sluice`
/// (every command, the daemon, its status page) in one line:
///
///     @main struct PlantSluice {
///         static func main() async { await SluiceCLI.main(plugins: [.modbus, .scale]) }
///     }
public enum SluiceCLI {
    /// Runs the command line with the built-in plugins plus `plugins`. A name already taken (by a
    /// built-in or another plugin in the list) is reported and the program exits with status 78.
    public static func main(plugins: [PluginDescriptor] = []) async {
        let registry: PluginRegistry
        do {
            registry = try BuiltinPlugins.registry.adding(plugins)
        } catch {
            printError("error: \(error)")
            exit(78) // EX_CONFIG
        }
        await main(registry: registry)
    }

    /// Runs the command line with exactly the plugins of `registry` (built-ins left out unless
    /// the registry holds them).
    public static func main(registry: PluginRegistry) async {
        installed.withLock { $0 = registry }
        await Sluice.main()
    }

    /// The plugins of this program, set once by `main` before any command runs.
    private static let installed = Mutex<PluginRegistry?>(nil)

    /// A loader with this program's plugins (the built-ins when `main` was bypassed, as in tests).
    static func loader() -> PipelineFileLoader {
        PipelineFileLoader(registry: installed.withLock { $0 } ?? BuiltinPlugins.registry)
    }
}
