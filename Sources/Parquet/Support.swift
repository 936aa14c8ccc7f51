/// `Array.withUnsafeBytes` with the closure's typed error kept (the standard library's version
/// only rethrows `any Error`).
@inline(__always)
func withRawBytes<R, E: Error>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    let result: Result<R, E> = array.withUnsafeBytes { raw in Result { () throws(E) -> R in try body(raw) } }
    return try result.get()
}
