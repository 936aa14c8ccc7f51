import ConnectorKit
import CoreConnectors

/// How the pipeline loader finds this folder's plugins: `BuiltinPlugins` lists it, and a
/// package building its own registry can pick it alone.
extension PluginDescriptor {
    /// The `parquet` sink.
    public static let parquet: PluginDescriptor = .sink("parquet", ParquetConfiguration.self, summary: "Parquet files in Hive layout (date=YYYY-MM-DD), zstd/snappy/gzip, exactly-once") { c, ctx in
        try ParquetSink(configuration: c, root: ctx.resolve(c.path) + "/" + (c.table ?? ctx.pipeline), logger: ctx.logger)
    }
}
