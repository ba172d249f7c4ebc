from tabular_mlops.init.cli import main

raise SystemExit(main())
