from kgn_gui.ui.app import main

raise SystemExit(main())
