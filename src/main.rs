fn main() {
    std::process::exit(pbs_mover::cli::run());
}
