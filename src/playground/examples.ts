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
    query: `# Live updates over a WebSocket: run it, then assign yourself a task in another tab.
subscription NotificationAdded {
  notificationAdded { kind message createdAt actor { name } task { title } }
}
`,
  },
];
