/// Ending the process by a signal's default action, from inside that signal's handler.
public enum FatalSignal {
    /// Restores `signal`'s default action and raises it: the last call of a handler that has
    /// reported (or cleaned up after) a fatal signal, so the process ends as it would have with
    /// no handler (SIGBUS and SIGSEGV dump core; a parent sees the signal, not an exit code).
    /// The signal is blocked while its handler runs, so it is delivered when the handler
    /// returns. Async-signal-safe: `sigaction` and `raise` only.
    public static func endByDefaultAction(_ signal: Int32) {
        var action = sigaction()
        #if os(Linux)
        action.__sigaction_handler.sa_handler = SIG_DFL
        #else
        action.__sigaction_u.__sa_handler = SIG_DFL
        #endif
        sigemptyset(&action.sa_mask)
        sigaction(signal, &action, nil)
        raise(signal)
    }
}
