import ConnectorKit

/// How the pipeline loader finds this folder's plugins: `BuiltinPlugins` lists it, and a
/// package building its own registry can pick it alone.
extension PluginDescriptor {
    /// The `schema` transform.
    public static let schema: PluginDescriptor = .transform("schema", SchemaConfiguration.self, summary: "Cast to declared types; rename, derive, filter") { c, ctx in try SchemaTransform(c, host: ctx.host) }
}
