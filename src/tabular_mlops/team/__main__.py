from tabular_mlops.team.cli import main

main()
