/**
 * The tabs a first visit to the playground opens with: one per thing people try first. Shared by
 * the browser bundle and the tests (which run the first tab's query after signing in).
 */
export const EXAMPLE_TABS: { query: string; variables?: string }[] = [
  {
    query: `# Sign in above, pick a tenant, run (Ctrl-Enter).
query ProjectsWithTasks {
  projects(first: 10) {
    totalCount
    edges {
      node {
        id
        key
        name
        tasks(first: 5) {
          totalCount
          edges { node { title status priority assignee { name } } }
        }
      }
    }
  }
}
`,
  },
  {
    query: `# A filtered, sorted list: the most urgent open tasks of every project, nobody's yet
# or due soon, highest priority first and then the earliest due date (no date last).
query Triage {
  projects(first: 10, filter: { statusIs: { notIn: [ARCHIVED, COMPLETED] } }) {
    edges {
      node {
        key
        name
        tasks(
          first: 5
          filter: {
            statusIs: { ne: DONE }
            or: [{ assignee: { isNull: true } }, { dueDate: { lt: "2027-01-01" } }]
          }
          sort: [{ field: PRIORITY, direction: DESC }, { field: DUE_DATE }]
        ) {
          totalCount
          edges { node { title priority dueDate assignee { name } } }
        }
      }
    }
  }
}
`,
  },
  {
    query: `query Me {
  me { id email name }
}
`,
  },
  {
    query: `query MyTenants {
  myTenants { id slug name plan myRole }
}
`,
  },
  {
    query: `mutation CreateProject($input: CreateProjectInput!) {
  createProject(input: $input) { id key name status }
}
`,
    variables: JSON.stringify(
      { input: { key: 'DEMO', name: 'Demo project', description: 'Made in the playground' } },
      null,
      2,
    ),
  },
  {
    query: `# A dashboard in one request: counts over each project's tasks, computed in SQL, each
# part only when selected. overdue: not DONE and due before asOf (default: today, UTC).
query ProjectDashboard {
  projects(first: 10) {
    edges {
      node {
        key
        name
        taskStats {
          total
          overdue
          byStatus { status count }
          byAssignee { count user { name } }
        }
      }
    }
  }
}
`,
  },
  {
    query: `# Full-text search over project names and descriptions, task titles and descriptions and
# comment bodies of this tenant. Exact title matches first, then by rank. Try "quoted phrases"
# or -excluded words.
query Search($query: String!) {
  search(query: $query, first: 10) {
    totalCount
    edges {
      rank
      highlight { text match }
      node {
        __typename
        ... on Project { key name }
        ... on Task { title status }
        ... on Comment { body task { title } }
      }
    }
  }
}
`,
    variables: JSON.stringify({ query: 'website' }, null, 2),
  },
  {
    query: `# Your notifications in this tenant, live over a WebSocket. They come from what other
# members do, never from your own actions: run this, open the playground in a new browser tab
# (each tab keeps its own sign-in), sign in there as another member of this tenant, and assign
# a task to you or comment on one you created or are assigned.
subscription NotificationAdded {
  notificationAdded { kind message createdAt actor { name } task { title } }
}
`,
  },
  {
    query: `# Every change to the tasks of one project, your own included: put a project's id below
# (the first tab lists them), run this, then create or edit a task of that
# project in another tab.
subscription TaskChanged($projectId: ID!) {
  taskChanged(projectId: $projectId) { kind taskId task { title status assignee { name } } }
}
`,
    variables: JSON.stringify({ projectId: 'a project id' }, null, 2),
  },
];
