// The fault tests stop and start the one server every test here uses: no two tests may run at once.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
