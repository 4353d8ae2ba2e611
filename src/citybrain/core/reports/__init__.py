"""Reports: a typed model every scene's section is turned into (``model``, ``adapt``), narrative from
the numbers (``narrative``), rendering to HTML and PDF with vector charts (``render``, ``chart``,
``templates/``) and the monthly report (``monthly``). See docs/reports.md."""
