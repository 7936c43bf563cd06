/// The outcome of `body`: its value or its typed error, so a check can compare both with a
/// model in one `switch` (a `do`/`catch` cannot throw the check's own failure from inside).
@inline(__always)
func result<T, E: Error>(of body: () throws(E) -> T) -> Result<T, E> {
    do throws(E) { return .success(try body()) } catch { return .failure(error) }
}
