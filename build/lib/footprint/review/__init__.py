"""The certification body's review: report content, calculation bundles and recompute, decisions and the
approval gate.

Public: ``decisions.run_review`` (report + bundle), ``decisions.decide``, ``decisions.approved_results``
(the approved calculation, which certify issues from), ``bundle.write`` / ``bundle.recompute``,
``report.build``, ``document.render``.
"""
