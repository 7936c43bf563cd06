// The FuzzLZ4RoundTrip fuzz target (docs/FUZZING.md): libFuzzer under scripts/fuzz.sh, a replayer otherwise.
import FuzzChecks
import FuzzDriver

FuzzDriver.main(LZ4RoundTripCheck.self)
