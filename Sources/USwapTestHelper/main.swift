// A helper process for tests that need another process (analyze) or fork.
print("ready")
