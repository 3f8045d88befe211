using BenchmarkDotNet.Running;

// Micro-benchmarks of the hot paths (see README "Micro-benchmarks"). Not run by the tests or CI:
//   dotnet run -c Release --project bench/Holdfast.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
