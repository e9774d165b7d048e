// Placeholder until the load generator lands.
@main enum LoadGen { static func main() {} }
