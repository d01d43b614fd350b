using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Spillway.Benchmarks -- --filter '*'   (or a class name: '*Framer*')
BenchmarkSwitcher.FromAssembly(typeof(Spillway.Benchmarks.FramerBenchmarks).Assembly).Run(args);
