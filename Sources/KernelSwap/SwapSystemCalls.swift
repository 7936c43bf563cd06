import SystemSupport

/// swapon(2) and swapoff(2): glibc has them, Swift's Glibc module does not import
/// <sys/swap.h>, so they are looked up once in the C library.
public enum SwapSystemCalls {
    private typealias SwapOn = @convention(c) (UnsafePointer<CChar>?, Int32) -> Int32
    private typealias SwapOff = @convention(c) (UnsafePointer<CChar>?) -> Int32

    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        dlsym(dlopen(nil, RTLD_NOW), name)
    }

    /// Enables swapping on `path`; throws with errno's text on failure.
    public static func swapOn(_ path: String) throws(KernelSwapError) {
        guard let raw = symbol("swapon") else { throw .unavailable("the C library has no swapon") }
        let call = unsafeBitCast(raw, to: SwapOn.self)
        guard call(path, 0) == 0 else { throw .failed("swapon \(path): \(SystemCall.lastError)") }
    }

    /// Disables swapping on `path`; throws with errno's text on failure.
    public static func swapOff(_ path: String) throws(KernelSwapError) {
        guard let raw = symbol("swapoff") else { throw .restoreFailed("the C library has no swapoff") }
        let call = unsafeBitCast(raw, to: SwapOff.self)
        guard call(path) == 0 else { throw .restoreFailed("swapoff \(path): \(SystemCall.lastError)") }
    }

    /// The devices and files listed in /proc/swaps (under `root`).
    public static func activeSwaps(root: SystemRoot = .live) -> [String] {
        guard let text = try? ProcFile.read(root.path("/proc/swaps")) else { return [] }
        return text.split(separator: "\n").dropFirst().compactMap { line in
            line.split(separator: " ", omittingEmptySubsequences: true).first.map(String.init)
        }
    }
}

/// swapon(2)/swapoff(2) as values, so tests can run a whole session in a fake ``SystemRoot``
/// without enabling swap on the machine. Each returns nil on success or the error.
public struct SwapSwitch: Sendable {
    /// Enables swapping on a path.
    public var on: @Sendable (String) -> KernelSwapError?
    /// Disables swapping on a path.
    public var off: @Sendable (String) -> KernelSwapError?

    /// A switch that calls `on` and `off`.
    public init(on: @escaping @Sendable (String) -> KernelSwapError?, off: @escaping @Sendable (String) -> KernelSwapError?) {
        self.on = on
        self.off = off
    }

    /// The real system calls.
    public static let live = SwapSwitch(
        on: { path in
            do throws(KernelSwapError) { try SwapSystemCalls.swapOn(path) } catch { return error }
            return nil
        },
        off: { path in
            do throws(KernelSwapError) { try SwapSystemCalls.swapOff(path) } catch { return error }
            return nil
        })
}
