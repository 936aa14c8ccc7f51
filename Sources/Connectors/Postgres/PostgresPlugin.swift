import ConnectorKit
import CoreConnectors

/// How the pipeline loader finds this folder's plugins: `BuiltinPlugins` lists it, and a
/// package building its own registry can pick it alone.
extension PluginDescriptor {
    /// The `postgres` sink.
    public static let postgres: PluginDescriptor = .sink("postgres", PostgresConfiguration.self, summary: "PostgreSQL: binary COPY, day partitions, upsert, exactly-once") { c, ctx in
        PostgresSink(configuration: c, password: try c.resolvedPassword(context: ctx), logger: ctx.logger)
    }
}
